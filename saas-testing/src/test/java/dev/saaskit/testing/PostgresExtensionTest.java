package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

/**
 * Runs small sample test classes through the JUnit engine and checks what the extension gave them. The samples
 * are static nested classes, which neither Surefire nor the Jupiter engine runs on their own.
 */
class PostgresExtensionTest {
  /** What each sample saw, by "Sample.place": database names, or "ok"/"closed" markers. */
  static final Map<String, List<String>> SEEN = new ConcurrentHashMap<>();

  static void record(String place, String value) {
    SEEN.computeIfAbsent(place, k -> new CopyOnWriteArrayList<>()).add(value);
  }

  static String only(String place) {
    List<String> values = SEEN.get(place);
    assertThat(values).as("values recorded at %s", place).isNotNull().isNotEmpty();
    assertThat(values.stream().distinct()).as("distinct values at %s", place).hasSize(1);
    return values.get(0);
  }

  private static EngineExecutionResults run(Class<?>... classes) {
    SEEN.clear();
    EngineTestKit.Builder builder = EngineTestKit.engine("junit-jupiter");
    for (Class<?> c : classes) {
      builder.selectors(selectClass(c));
    }
    EngineExecutionResults results = builder.execute();
    Events events = results.allEvents();
    events.failed().stream().forEach(e -> {
      throw new AssertionError("sample failed: " + e, e.getPayload(Throwable.class).orElse(null));
    });
    assertThat(events.skipped().count()).as("skipped samples").isZero();
    return results;
  }

  @Test
  void eachTestClassGetsItsOwnDatabaseAndItIsDroppedAfterTheClass() throws Exception {
    EngineExecutionResults results = run(SampleA.class, SampleB.class);
    assertThat(results.testEvents().succeeded().count()).isEqualTo(4);

    String a = only("A.test");
    String b = only("B.test");
    assertThat(a).matches("saas_t_[0-9a-f]{12}");
    assertThat(b).matches("saas_t_[0-9a-f]{12}");
    assertThat(a).isNotEqualTo(b);
    // Both tests of a class share its database.
    assertThat(SEEN.get("A.test")).hasSize(2);

    PostgresServer server = PostgresServer.shared();
    assertThat(Db.databaseExists(server, a)).as("database of SampleA after the class").isFalse();
    assertThat(Db.databaseExists(server, b)).as("database of SampleB after the class").isFalse();
    assertThat(Db.rolesNamedLike(server, a)).as("roles of SampleA after the class").isZero();
    assertThat(Db.rolesNamedLike(server, b)).as("roles of SampleB after the class").isZero();
  }

  @Test
  void injectsTheSameDatabaseEverywhere() throws Exception {
    run(SampleInjection.class);
    String name = only("Injection.constructor");
    for (String place : List.of("Injection.staticFieldBeforeAll", "Injection.beforeAllParam",
        "Injection.instanceField", "Injection.beforeEachParam", "Injection.testParam", "Injection.afterEachParam",
        "Injection.afterAllParam", "Injection.superclassField", "Injection.staticFieldAfterAll")) {
      assertThat(only(place)).as(place).isEqualTo(name);
    }
    assertThat(SEEN.get("Injection.testParam")).hasSize(2);
    assertThat(only("Injection.finalField")).isEqualTo("untouched");
    assertThat(SampleInjection.staticDb).as("static field is cleared after the class").isNull();
    assertThat(Db.databaseExists(PostgresServer.shared(), name)).isFalse();
  }

  @Test
  void nestedClassesShareTheOuterDatabaseWhichOutlivesThem() throws Exception {
    run(SampleNested.class);
    String outer = only("Nested.outer");
    assertThat(only("Nested.inner")).isEqualTo(outer);
    assertThat(only("Nested.innerField")).isEqualTo(outer);
    assertThat(only("Nested.deeper")).isEqualTo(outer);
    // The outer @AfterAll runs after the nested classes finished: the database must still work then.
    assertThat(only("Nested.outerAfterAll")).isEqualTo("usable");
    assertThat(Db.databaseExists(PostgresServer.shared(), outer)).isFalse();
  }

  @Test
  void worksWithPerClassLifecycle() throws Exception {
    run(SamplePerClass.class);
    String name = only("PerClass.constructor");
    assertThat(only("PerClass.field")).isEqualTo(name);
    assertThat(only("PerClass.beforeAll")).isEqualTo(name);
    assertThat(only("PerClass.test")).isEqualTo(name);
    assertThat(SEEN.get("PerClass.test")).hasSize(2);
    assertThat(Db.databaseExists(PostgresServer.shared(), name)).isFalse();
  }

  @Test
  void theDatabaseIsUsableFromTheTests() throws Exception {
    run(SampleUsesDatabase.class);
    assertThat(only("Uses.rows")).isEqualTo("1");
  }

  // ---------------------------------------------------------------- samples

  @ExtendWith(PostgresExtension.class)
  static class SampleA {
    @Test
    void one(TestDatabase db) {
      record("A.test", db.name());
    }

    @Test
    void two(TestDatabase db) {
      record("A.test", db.name());
    }
  }

  @ExtendWith(PostgresExtension.class)
  static class SampleB {
    @Test
    void one(TestDatabase db) {
      record("B.test", db.name());
    }

    @Test
    void two(TestDatabase db) {
      record("B.test", db.name());
    }
  }

  abstract static class SampleBase {
    TestDatabase inheritedDb;
  }

  @ExtendWith(PostgresExtension.class)
  static class SampleInjection extends SampleBase {
    static TestDatabase staticDb;
    TestDatabase db;
    final TestDatabase finalDb = null;

    SampleInjection(TestDatabase fromConstructor) {
      record("Injection.constructor", fromConstructor.name());
    }

    @BeforeAll
    static void beforeAll(TestDatabase param) {
      record("Injection.staticFieldBeforeAll", staticDb.name());
      record("Injection.beforeAllParam", param.name());
    }

    @BeforeEach
    void beforeEach(TestDatabase param) {
      record("Injection.instanceField", db.name());
      record("Injection.superclassField", inheritedDb.name());
      record("Injection.beforeEachParam", param.name());
      record("Injection.finalField", finalDb == null ? "untouched" : "injected");
    }

    @Test
    void first(TestDatabase param) {
      record("Injection.testParam", param.name());
    }

    @Test
    void second(TestDatabase param) {
      record("Injection.testParam", param.name());
    }

    @AfterEach
    void afterEach(TestDatabase param) {
      record("Injection.afterEachParam", param.name());
    }

    @AfterAll
    static void afterAll(TestDatabase param) {
      record("Injection.afterAllParam", param.name());
      record("Injection.staticFieldAfterAll", staticDb.name());
    }
  }

  @ExtendWith(PostgresExtension.class)
  static class SampleNested {
    static TestDatabase outerDb;

    @Test
    void outer(TestDatabase db) {
      record("Nested.outer", db.name());
    }

    @AfterAll
    static void afterAll() throws Exception {
      Db.count(outerDb.appDataSource(), "select 1");
      record("Nested.outerAfterAll", "usable");
    }

    @Nested
    class Inner {
      TestDatabase innerDb;

      @Test
      void inner(TestDatabase db) {
        record("Nested.inner", db.name());
        record("Nested.innerField", innerDb.name());
      }

      @Nested
      class Deeper {
        @Test
        void deeper(TestDatabase db) {
          record("Nested.deeper", db.name());
        }
      }
    }
  }

  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  @ExtendWith(PostgresExtension.class)
  static class SamplePerClass {
    TestDatabase db;

    SamplePerClass(TestDatabase db) {
      record("PerClass.constructor", db.name());
    }

    @BeforeAll
    void beforeAll(TestDatabase param) {
      record("PerClass.field", db.name());
      record("PerClass.beforeAll", param.name());
    }

    @Test
    void one(TestDatabase param) {
      record("PerClass.test", param.name());
    }

    @Test
    void two(TestDatabase param) {
      record("PerClass.test", param.name());
    }
  }

  @ExtendWith(PostgresExtension.class)
  static class SampleUsesDatabase {
    @BeforeAll
    static void migrate(TestDatabase db) throws Exception {
      Db.exec(db.ownerDataSource(), "create table notes(id bigserial primary key, body text not null)");
    }

    @Test
    void insertAndCount(TestDatabase db) throws Exception {
      Db.exec(db.appDataSource(), "insert into notes(body) values ('hello')");
      record("Uses.rows", Long.toString(Db.count(db.appDataSource(), "select count(*) from notes")));
    }
  }
}
