package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** The connect timeout is a setting, bounded, and it is what a caller waits when Redis never answers. */
class RedisConnectTimeoutTest {

  @Test
  void connectTimeoutIsBounded() {
    SaasRedis.Builder builder = SaasRedis.builder("redis://127.0.0.1:6379");
    assertThatThrownBy(() -> builder.connectTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("connectTimeout must be at least 1 ms but was PT0S");
    assertThatThrownBy(() -> builder.connectTimeout(Duration.ofNanos(999_999)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1 ms");
    assertThatThrownBy(() -> builder.connectTimeout(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1 ms");
    assertThatThrownBy(() -> builder.connectTimeout(Duration.ofMinutes(2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("connectTimeout must be at most PT1M but was PT2M");
    assertThatThrownBy(() -> builder.connectTimeout(null)).isInstanceOf(NullPointerException.class);
    assertThat(builder.connectTimeout(Duration.ofMinutes(1))).isSameAs(builder);
  }

  /**
   * A server that accepts the TCP connection and never answers (a hung Redis, or a middlebox that completes the
   * handshake for an unreachable address): the first call falls back to the loader once the connect timeout (not
   * Lettuce's 10 s default) runs out. The bound checked is far above the configured 300 ms and far below 10 s, so a
   * loaded machine cannot make it fail while the old default would.
   */
  @Test
  void aServerThatNeverAnswersCostsTheFirstCallerTheConnectTimeoutOnly() throws Exception {
    List<Socket> held = new CopyOnWriteArrayList<>();
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread acceptor = new Thread(() -> {
        while (!silent.isClosed()) {
          try {
            held.add(silent.accept()); // accepted, never read from, never answered
          } catch (IOException closed) {
            return;
          }
        }
      }, "silent-redis");
      acceptor.setDaemon(true);
      acceptor.start();
      try (SaasRedis redis = SaasRedis.builder("redis://127.0.0.1:" + silent.getLocalPort()).app("silent")
              .connectTimeout(Duration.ofMillis(300)).commandTimeout(Duration.ofSeconds(30)).build();
          SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(1))
              .sharedTier(redis.tier(ValueCodec.json(String.class))).build()) {
        long start = System.nanoTime();
        String value = TenantContext.call(TenantId.of("acme"), () -> cache.get("k", k -> "loaded"));
        Duration waited = Duration.ofNanos(System.nanoTime() - start);
        assertThat(value).isEqualTo("loaded");
        assertThat(held).as("the client did connect to the silent server").isNotEmpty();
        assertThat(redis.stats().errors()).as("the failed connect is counted").isPositive();
        assertThat(waited).as("waited for the connect timeout, not for Lettuce's 10 s default or the 30 s command"
            + " timeout").isLessThan(Duration.ofSeconds(8));
      } finally {
        for (Socket socket : held) {
          socket.close();
        }
      }
    }
  }
}
