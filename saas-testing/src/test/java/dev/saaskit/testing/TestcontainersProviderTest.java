package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.saaskit.testing.internal.DefaultTestDatabase;
import dev.saaskit.testing.internal.RunningServer;
import dev.saaskit.testing.internal.SharedServer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;

/** The Testcontainers provider end to end. Skipped where there is no Docker engine. */
class TestcontainersProviderTest {

  // Per test rather than @BeforeAll, so that reports count the skipped test and show why.
  @BeforeEach
  void requireDocker() {
    boolean docker;
    try {
      docker = DockerClientFactory.instance().isDockerAvailable();
    } catch (RuntimeException e) {
      docker = false;
    }
    assumeTrue(docker, "Docker isn't available: skipping the Testcontainers provider test "
        + "(the embedded and SAAS_TEST_POSTGRES_URL providers are tested by the other classes)");
  }

  @Test
  void startsPostgresInAContainerAndManagesADatabaseOnIt() throws Exception {
    RunningServer server = SharedServer.startTestcontainers(SharedServer.DEFAULT_IMAGE);
    try {
      assertThat(server.description()).startsWith("Testcontainers " + SharedServer.DEFAULT_IMAGE + " 17.");
      assertThat(server.majorVersion()).isEqualTo(17);
      TestDatabase db = DefaultTestDatabase.create(server, "TestcontainersProviderTest");
      Db.exec(db.ownerDataSource(), "create table t(id int)");
      Db.exec(db.appDataSource(), "insert into t values (1)");
      assertThat(Db.count(db.appDataSource(), "select count(*) from t")).isEqualTo(1);
      db.close();
      assertThat(Db.databaseExists(server, db.name())).isFalse();
      assertThat(Db.rolesNamedLike(server, db.name())).isZero();
    } finally {
      server.stop();
    }
  }
}
