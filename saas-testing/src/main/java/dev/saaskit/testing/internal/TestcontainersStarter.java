package dev.saaskit.testing.internal;

import dev.saaskit.core.SaasException;
import java.util.function.Function;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * Starts PostgreSQL in a Testcontainers container. The only class that names Testcontainers types; it is loaded
 * reflectively, and only when {@code SAAS_TEST_POSTGRES=testcontainers}, so Testcontainers stays optional.
 */
public final class TestcontainersStarter implements Function<String, RunningServer> {

  /** Used reflectively by {@link SharedServer#startTestcontainers(String)}. */
  public TestcontainersStarter() {}

  /** Whether Testcontainers can reach a Docker engine. */
  public static boolean dockerAvailable() {
    try {
      return DockerClientFactory.instance().isDockerAvailable();
    } catch (RuntimeException e) {
      return false;
    }
  }

  @Override
  public RunningServer apply(String image) {
    if (!dockerAvailable()) {
      throw new SaasException("SAAS_TEST_POSTGRES=testcontainers, but Docker isn't available (Testcontainers "
          + "found no running Docker engine). " + SharedServer.useEmbeddedAdvice());
    }
    PostgreSQLContainer<?> container =
        new PostgreSQLContainer<>(DockerImageName.parse(image).asCompatibleSubstituteFor("postgres"));
    try {
      container.start();
    } catch (RuntimeException e) {
      container.stop();
      throw new SaasException("Could not start the Testcontainers PostgreSQL (" + image + "): " + e.getMessage()
          + ". " + SharedServer.useEmbeddedAdvice(), e);
    }
    return RunningServer.check(
        new RunningServer.Spec("Testcontainers " + image, container.getHost(),
            container.getMappedPort(PostgreSQLContainer.POSTGRESQL_PORT), container.getUsername(),
            container.getPassword(), container.getDatabaseName(), container::stop),
        "The container may not be ready; " + SharedServer.useEmbeddedAdvice());
  }
}
