package dev.saaskit.cache.redis.internal;

import dev.saaskit.core.SaasException;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.ConnectionFuture;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandInterruptedException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Redis client and connection shared by the tiers and rate limiters of a {@code SaasRedis}: scripts by SHA
 * (loaded again after NOSCRIPT), a circuit breaker, counters, and the flush of every bound cache when the connection
 * comes back after it was lost.
 */
public final class RedisCore implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RedisCore.class);
  private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);
  /** Error replies that fail every call until the server recovers: they count toward the breaker. */
  private static final List<String> SERVER_WIDE =
      List.of("LOADING", "BUSY", "MASTERDOWN", "READONLY", "CLUSTERDOWN", "TRYAGAIN", "NOREPLICAS", "MISCONF");

  private final RedisURI redisUri;
  private final ClientOptions options;
  private final Duration connectTimeout;
  /**
   * Made at the first connect, not when built: Lettuce starts a timer thread as soon as a client exists, and
   * building a component starts no thread (docs/architecture.md). Guarded by {@link #connecting}.
   */
  private @Nullable RedisClient client;
  private final String prefix;
  private final Breaker breaker;
  private final Duration storeGrace;
  private final Map<String, String> shas = new ConcurrentHashMap<>();
  private final List<Runnable> onReconnect = new CopyOnWriteArrayList<>();
  private final Object connecting = new Object();
  /** Whether a connect attempt failed, and when (System.nanoTime); guarded by {@link #connecting}. */
  private boolean connectFailed;
  private long connectFailedAt;
  private volatile @Nullable StatefulRedisConnection<String, byte[]> connection;
  private volatile boolean lost;
  private volatile boolean closed;
  /** Moved by every disconnection: a server id read across one may be the previous server's. */
  private final AtomicLong connectionEpoch = new AtomicLong();
  /** The current connection's server id, with the epoch it was read in; null before the first read. */
  private volatile @Nullable ServerId serverId;
  private volatile boolean serverIdUnknownLogged;

  public final LongAdder tierHits = new LongAdder();
  public final LongAdder tierMisses = new LongAdder();
  public final LongAdder tierBypasses = new LongAdder();
  public final LongAdder tierStores = new LongAdder();
  public final LongAdder tierStoresRejected = new LongAdder();
  public final LongAdder tierUndecodable = new LongAdder();
  public final LongAdder errors = new LongAdder();
  public final LongAdder reconnectFlushes = new LongAdder();
  public final LongAdder lockWaits = new LongAdder();
  public final LongAdder lockTimeouts = new LongAdder();
  public final LongAdder rateLimitFallbacks = new LongAdder();

  public RedisCore(String uri, String prefix, String clientName, Duration connectTimeout, Duration commandTimeout,
      int breakerFailures, Duration breakerOpen, Duration storeGrace) {
    RedisURI redisUri = parse(uri);
    redisUri.setTimeout(commandTimeout);
    redisUri.setClientName(clientName);
    this.redisUri = redisUri;
    this.options = ClientOptions.builder()
        .autoReconnect(true)
        // fail at once while disconnected instead of queueing until the timeout: the caller falls back
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .timeoutOptions(TimeoutOptions.enabled(commandTimeout))
        // Lettuce's default is 10 s: the first call of a node whose Redis cannot be reached waited that long
        .socketOptions(SocketOptions.builder().connectTimeout(connectTimeout).build())
        .build();
    this.connectTimeout = connectTimeout;
    this.prefix = prefix;
    this.breaker = new Breaker(breakerFailures, breakerOpen.toNanos());
    this.storeGrace = storeGrace;
  }

  /**
   * Lettuce's parse of {@code uri}. Its errors quote the whole URI, password included, and some are not
   * IllegalArgumentExceptions (a non-numeric database is a NumberFormatException): rethrown without the URI and
   * without the cause, so the password reaches no log.
   */
  @SuppressWarnings("UnusedException") // on purpose: the cause's message holds the URI
  private static RedisURI parse(String uri) {
    try {
      return RedisURI.create(uri);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("the Redis URI is malformed (" + e.getClass().getSimpleName()
          + "); expected redis://[:password@]host[:port][/database] or rediss://... (the URI is not repeated here:"
          + " it may hold a password)");
    }
  }

  /** The key prefix of the app ({@code <app>:}). */
  public String prefix() {
    return prefix;
  }

  public Duration storeGrace() {
    return storeGrace;
  }

  public boolean breakerOpen() {
    return breaker.isOpen();
  }

  /**
   * Throws if this connection was closed: a rate limiter or tier made or used after {@code SaasRedis.close()}
   * would otherwise fall back to the in-process limiter (or bypass Redis) without a word.
   */
  public void checkOpen() {
    if (closed) {
      throw new IllegalStateException("SaasRedis is closed: build a new one (and close it after the caches and"
          + " rate limiters that use it)");
    }
  }

  /** Whether a call may go to Redis now (the breaker is closed, or this call is its probe). */
  public boolean allow() {
    return !closed && breaker.allow();
  }

  public void succeeded() {
    breaker.success();
  }

  /**
   * Reports a failed call. Only a failure to reach Redis (lost connection, timeout, refused connect) or a state of
   * the whole server that fails every call (loading, a busy script, a replica that cannot write) counts toward the
   * breaker: an error Redis answered about this call (WRONGTYPE on one bad key, OOM on a write, a script error)
   * fails this call alone. Counting those opened the breaker for every tenant because of one planted key.
   */
  public void failed(RuntimeException e) {
    errors.increment();
    if (interrupted(e)) {
      // the caller's thread was interrupted (a cancelled request, a pool stopped with shutdownNow) and stopped
      // waiting for the reply: nothing is known about Redis. Counted as a failure, a few cancelled requests opened
      // the breaker for every tenant; a probe that ends this way hands the probe on
      breaker.release();
      LOG.debug("a Redis call was interrupted; the breaker does not count it", e);
      return;
    }
    if (serverAnswered(e)) {
      // Redis is reachable and answering: the connection is fine (and a probe that got this answer proves it)
      breaker.success();
      LOG.debug("Redis answered a call with an error; the breaker does not count it", e);
      return;
    }
    breaker.failure();
    LOG.debug("a Redis call failed", e);
  }

  /** Whether {@code e} ended the call because the caller's thread was interrupted. */
  static boolean interrupted(RuntimeException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof RedisCommandInterruptedException || t instanceof InterruptedException) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code e} is an error reply about this call alone (not a failure to reach Redis). */
  static boolean serverAnswered(RuntimeException e) {
    if (!(e instanceof RedisCommandExecutionException)) {
      return false;
    }
    String message = e.getMessage();
    if (message == null) {
      return true;
    }
    for (String prefix : SERVER_WIDE) {
      if (message.startsWith(prefix)) {
        return false;
      }
    }
    return true;
  }

  /** Registers what to run when the connection comes back after it was lost. */
  public Runnable onReconnect(Runnable action) {
    onReconnect.add(action);
    return () -> onReconnect.remove(action);
  }

  /** The connection, connecting first if there is none yet. */
  public RedisCommands<String, byte[]> commands() {
    StatefulRedisConnection<String, byte[]> current = connection;
    if (current == null) {
      long asked = System.nanoTime();
      synchronized (connecting) {
        if (closed) {
          throw new IllegalStateException("SaasRedis is closed");
        }
        current = connection;
        if (current == null) {
          // a burst of calls while Redis cannot be reached would otherwise wait here for one connect attempt
          // each, one after the other (seconds for the last): a call that waited while an attempt failed fails too
          if (connectFailed && connectFailedAt - asked >= 0) {
            throw new RedisConnectionException("Redis could not be connected to (an attempt failed while this call"
                + " waited)");
          }
          try {
            RedisClient made = client;
            if (made == null) {
              made = RedisClient.create(redisUri);
              made.setOptions(options);
              made.addListener(new Listener());
              client = made;
            }
            current = connect(made);
          } catch (RuntimeException e) {
            connectFailed = true;
            connectFailedAt = System.nanoTime();
            throw e;
          }
          connection = current;
        }
      }
    }
    return current.sync();
  }

  /**
   * Connects within {@code connectTimeout}, handshake included. Lettuce bounds only the TCP connect by the socket
   * option; its handshake ({@code HELLO}, {@code CLIENT SETNAME}) waits for the command timeout, so a server that
   * accepts connections and never answers (a hung Redis, or a middlebox answering for an unreachable host) held the
   * first caller for the whole command timeout. A connection that completes after the wait was given up is closed.
   */
  private StatefulRedisConnection<String, byte[]> connect(RedisClient made) {
    ConnectionFuture<StatefulRedisConnection<String, byte[]>> future = made.connectAsync(CODEC, redisUri);
    try {
      return future.get(connectTimeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      giveUp(future);
      throw new RedisConnectionException("Redis did not complete the connection within the connect timeout ("
          + connectTimeout + ")", e);
    } catch (InterruptedException e) {
      giveUp(future);
      Thread.currentThread().interrupt();
      throw new RedisCommandInterruptedException(e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RedisConnectionException) {
        throw (RedisConnectionException) cause;
      }
      throw new RedisConnectionException("Redis could not be connected to", cause == null ? e : cause);
    }
  }

  /** Cancels a connect that took too long, and closes its connection should it complete anyway. */
  @SuppressWarnings("FutureReturnValueIgnored") // nothing waits for the close: it only releases the channel
  private static void giveUp(ConnectionFuture<StatefulRedisConnection<String, byte[]>> future) {
    future.cancel(true);
    future.thenAccept(StatefulRedisConnection::close);
  }

  /**
   * The {@code run_id} of the Redis server this connection talks to ({@code INFO server}), read once per connection;
   * {@code ""} when the server does not tell (an ACL that denies {@code INFO}, a server without {@code run_id}).
   *
   * <p>A server that restarted from a snapshot, or a replica promoted after a failover, has a new {@code run_id} and
   * may hold older data than the server had: generations and key versions from before the last invalidations,
   * under which the entries those invalidations retired match again. The tier compares this id with the one it
   * recorded in Redis and moves the cache generation when they differ.
   *
   * @throws RuntimeException (Lettuce's) if Redis cannot be reached, or if the connection changed while the id was
   *     read (it may then be the previous server's)
   */
  public String serverId() {
    long epoch = connectionEpoch.get();
    ServerId known = serverId;
    if (known != null && known.epoch == epoch) {
      return known.id;
    }
    String id;
    try {
      id = runId(commands().info("server"));
    } catch (RuntimeException e) {
      if (!serverAnswered(e)) {
        throw e;
      }
      id = "";
    }
    if (id.isEmpty() && !serverIdUnknownLogged) {
      serverIdUnknownLogged = true;
      LOG.warn("Redis did not tell its run_id (INFO server): a restart from an older snapshot or a failover to a"
          + " lagging replica cannot be detected, and entries invalidated just before it may be served again until"
          + " their TTL; allow INFO to the tier's user");
    }
    if (connectionEpoch.get() != epoch) {
      throw new RedisConnectionException("the Redis connection changed while its server id was read");
    }
    serverId = new ServerId(epoch, id);
    return id;
  }

  /** The {@code run_id} field of an {@code INFO server} reply, or "" without one. */
  static String runId(@Nullable String info) {
    if (info == null) {
      return "";
    }
    return info.lines().filter(line -> line.startsWith("run_id:"))
        .map(line -> line.substring("run_id:".length()).strip()).findFirst().orElse("");
  }

  /** A server id and the connection epoch it was read in. */
  private record ServerId(long epoch, String id) {}

  /** Runs a script by SHA (loading it first when Redis does not know it) that returns an array. */
  @SuppressWarnings("unchecked")
  public List<Object> evalList(String script, String[] keys, byte[]... args) {
    return (List<Object>) Objects.requireNonNull(eval(script, ScriptOutputType.MULTI, keys, args), "script reply");
  }

  /** Runs a script by SHA that returns an integer. */
  public long evalLong(String script, String[] keys, byte[]... args) {
    Object reply = eval(script, ScriptOutputType.INTEGER, keys, args);
    return reply == null ? 0 : number(reply);
  }

  private @Nullable Object eval(String script, ScriptOutputType type, String[] keys, byte[]... args) {
    RedisCommands<String, byte[]> commands = commands();
    String sha = shas.get(script);
    if (sha != null) {
      try {
        return commands.evalsha(sha, type, keys, args);
      } catch (RedisNoScriptException e) {
        shas.remove(script);
      } catch (RedisCommandExecutionException e) {
        // a server that restarted forgot its scripts; some report that without the NOSCRIPT mapping
        if (e.getMessage() == null || !e.getMessage().startsWith("NOSCRIPT")) {
          throw e;
        }
        shas.remove(script);
      }
    }
    sha = commands.scriptLoad(script);
    shas.put(script, sha);
    return commands.evalsha(sha, type, keys, args);
  }

  public static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  public static byte[] bytes(long number) {
    return Long.toString(number).getBytes(StandardCharsets.UTF_8);
  }

  public static String text(Object reply) {
    if (reply instanceof byte[]) {
      return new String((byte[]) reply, StandardCharsets.UTF_8);
    }
    return String.valueOf(reply);
  }

  public static long number(Object reply) {
    if (reply instanceof Long) {
      return (Long) reply;
    }
    return Long.parseLong(text(reply));
  }

  @Override
  public void close() {
    RedisClient made;
    synchronized (connecting) {
      if (closed) {
        return;
      }
      closed = true;
      made = client;
    }
    StatefulRedisConnection<String, byte[]> current = connection;
    try {
      if (current != null) {
        current.close();
      }
    } finally {
      if (made != null) {
        made.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      }
    }
  }

  /** Connection events: a reconnection after a loss flushes every bound cache's local entries. */
  private final class Listener implements RedisConnectionStateListener {
    @Override
    public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
      connectionEpoch.incrementAndGet(); // the next connection may reach another server
      if (!closed) {
        lost = true;
      }
    }

    @Override
    public void onRedisConnected(RedisChannelHandler<?, ?> handler, SocketAddress address) {
      if (lost && !closed) {
        lost = false;
        LOG.warn("the Redis connection came back: flushing the local entries of the caches on this tier");
        for (Runnable action : onReconnect) {
          try {
            action.run();
          } catch (RuntimeException e) {
            LOG.warn("a flush after reconnection failed", e);
          }
        }
        // counted once done: a reader of the statistics that sees the flush counted must find the entries gone
        reconnectFlushes.increment();
      }
    }
  }

  /** For errors that must reach the caller (rate limits without a fallback). */
  public static SaasException unavailable(String what, RuntimeException cause) {
    return new SaasException("Redis is unavailable for " + what + ": " + cause.getMessage(), cause);
  }
}
