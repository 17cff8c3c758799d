package dev.saaskit.auth.internal;

import com.nimbusds.jose.util.DefaultResourceRetriever;
import com.nimbusds.jose.util.Resource;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A JWKS fetch with a deadline for the whole fetch, not only for each read. {@link DefaultResourceRetriever}'s
 * timeouts are the socket's: an IdP (or anything between) that sends one byte just before each read timeout keeps a
 * fetch going for as long as it likes, and with it the request thread that started it and, through nimbus's cache
 * lock, every verification waiting for the keys. The fetch runs on a daemon thread; the caller waits at most the
 * deadline, then disconnects the connection and gives up (an {@link IOException}, which nimbus reports as the keys
 * being unavailable); the fetch thread reads the body against the same deadline, so it stops too. Subclasses may
 * override {@link #openHTTPConnection} (calling super) to check or configure the connection. Not API.
 */
public class DeadlineRetriever extends DefaultResourceRetriever {
  /** Fetch threads: daemon, created on demand, gone after a minute idle. */
  private static final ExecutorService FETCHERS = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS,
      new SynchronousQueue<>(), r -> {
        Thread t = new Thread(r, "saaskit-idp-fetch");
        t.setDaemon(true);
        return t;
      });

  private final long deadlineMillis;

  /**
   * A retriever with {@code timeoutMillis} for connecting and for each read, {@code sizeLimit} bytes at most, and
   * {@code deadlineMillis} for the whole fetch.
   */
  public DeadlineRetriever(int timeoutMillis, int sizeLimit, long deadlineMillis) {
    super(timeoutMillis, timeoutMillis, sizeLimit);
    if (deadlineMillis < 1) {
      throw new IllegalArgumentException("deadlineMillis must be positive but was " + deadlineMillis);
    }
    this.deadlineMillis = deadlineMillis;
  }

  /** Work on a connection, run by {@link #withDeadline}. */
  @FunctionalInterface
  public interface Fetch<T> {
    /** Does the work; {@code connection} is to be set to the connection once it is open. */
    T run(AtomicReference<HttpURLConnection> connection) throws IOException;
  }

  @Override
  public Resource retrieveResource(URL url) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(deadlineMillis);
    return withDeadline("fetching " + url, deadlineMillis, connection -> fetch(url, connection, deadline));
  }

  /**
   * The fetch itself, as {@link DefaultResourceRetriever} does it (a 2xx status, at most the size limit) but reading
   * the body against the deadline too, so the abandoned thread of a trickled fetch also stops: at the first byte
   * after the deadline, or the read timeout.
   */
  private Resource fetch(URL url, AtomicReference<HttpURLConnection> connection, long deadline) throws IOException {
    HttpURLConnection c = openHTTPConnection(url);
    connection.set(c);
    try {
      c.setConnectTimeout(getConnectTimeout());
      c.setReadTimeout(getReadTimeout());
      int status = c.getResponseCode();
      if (status < 200 || status > 299) {
        throw new IOException("HTTP " + status + ": " + c.getResponseMessage());
      }
      String contentType = c.getContentType();
      try (InputStream in = c.getInputStream()) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        for (int n; (n = in.read(buffer)) >= 0; ) {
          if (getSizeLimit() > 0 && body.size() + n > getSizeLimit()) {
            throw new IOException("the answer of " + url + " is larger than " + getSizeLimit() + " bytes");
          }
          body.write(buffer, 0, n);
          if (System.nanoTime() - deadline > 0) {
            throw new IOException("fetching " + url + " took longer than " + deadlineMillis + " ms");
          }
        }
        return new Resource(body.toString(StandardCharsets.UTF_8), contentType);
      }
    } finally {
      c.disconnect();
    }
  }

  /**
   * Runs {@code fetch} on a daemon thread and waits at most {@code deadlineMillis} for it; then disconnects the
   * connection it opened (in the background, best effort) and throws.
   *
   * @throws IOException what {@code fetch} threw, or that {@code what} took longer than the deadline
   */
  public static <T> T withDeadline(String what, long deadlineMillis, Fetch<T> fetch) throws IOException {
    AtomicReference<HttpURLConnection> connection = new AtomicReference<>();
    Future<T> running = FETCHERS.submit(() -> fetch.run(connection));
    try {
      return running.get(deadlineMillis, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      running.cancel(true);
      HttpURLConnection c = connection.get();
      if (c != null) {
        // on another thread: closing a stream the fetch thread is reading may wait for that read (the JDK locks
        // it), and the caller must not wait
        var unused = FETCHERS.submit(c::disconnect);
      }
      throw new IOException(what + " took longer than " + deadlineMillis + " ms", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) {
        throw io;
      }
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      throw new IOException(what + " failed: " + cause, cause);
    } catch (InterruptedException e) {
      running.cancel(true);
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while " + what, e);
    }
  }

}
