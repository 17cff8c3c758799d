package com.example.notes;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.cache.postgres.CacheSchema;
import dev.saaskit.cache.postgres.PostgresInvalidationBus;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.jobs.JobType;
import dev.saaskit.jobs.JobWorker;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.jobs.SaasJobs;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.StartupGuard;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * A tenant-isolated notes service. Every note belongs to the current tenant (PostgreSQL Row-Level Security), a
 * background job counts each note's words in the note's tenant, and each tenant's note count is cached and
 * invalidated, on every node, by the transaction that adds a note.
 */
public final class NotesApp implements AutoCloseable {

  /** The payload of the word-count job. */
  public record CountWords(long noteId) {}

  /** One token for the code that enqueues the job and the handler that runs it. */
  public static final JobType<CountWords> COUNT_WORDS = JobType.of("notes.count-words", CountWords.class);

  private final DataSource db;
  private final SaasJobs jobs;
  private final PostgresInvalidationBus bus;
  private final SaasCache<String, Long> noteCounts;
  private final JobWorker worker;

  private NotesApp(DataSource appPool, DataSource workerPool) {
    this.db = TenantDataSource.wrap(appPool);             // every statement runs as TenantContext's tenant
    this.jobs = SaasJobs.builder(db).workerDataSource(workerPool).build();
    this.bus = PostgresInvalidationBus.builder(appPool).build().start();
    this.noteCounts = SaasCache.<String, Long>named("note-counts")
        .ttl(Duration.ofMinutes(10))
        .invalidationBus(bus)
        .build();
    this.worker = jobs.worker()
        .handler(COUNT_WORDS, (job, context) -> countWords(job.noteId()))   // runs in the job's tenant
        .build()
        .start();
  }

  /**
   * Once per deployment, as the owner role: the notes table and its policy, saaskit's jobs and cache schemas, and
   * their grants. Idempotent.
   */
  public static void migrate(DataSource ownerPool, String appRole, String workerRole) throws SQLException {
    try (Connection c = ownerPool.getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE IF NOT EXISTS notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL,"
          + " body text NOT NULL, words int)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    JobsSchema jobsSchema = JobsSchema.defaults();
    CacheSchema cacheSchema = CacheSchema.defaults();
    jobsSchema.migrate(ownerPool);
    cacheSchema.migrate(ownerPool);
    try (Connection c = ownerPool.getConnection()) {
      jobsSchema.grantApp(c, appRole);
      jobsSchema.grantWorker(c, workerRole);
      cacheSchema.grantApp(c, appRole);
    }
  }

  /** On every node: refuses to start if the app role could bypass Row-Level Security, then starts the worker. */
  public static NotesApp start(DataSource appPool, DataSource workerPool) {
    StartupGuard.defaults().verify(appPool);
    return new NotesApp(appPool, workerPool);
  }

  /**
   * Adds a note for the current tenant. The note, its word-count job and the invalidation of the tenant's count
   * commit together, or not at all; every node, this one included, drops the cached count when the bus delivers
   * the invalidation, milliseconds after the commit.
   */
  public long add(String body) throws SQLException {
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      try {
        long id;
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO notes (body) VALUES (?) RETURNING id")) {
          ps.setString(1, body);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            id = rs.getLong(1);
          }
        }
        jobs.queue().enqueue(c, JobRequest.builder(COUNT_WORDS, new CountWords(id)).build());
        bus.publishAndCommit(c, noteCounts.keyInvalidation("count")); // the row rides with the COMMIT
        return id;
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    }
  }

  /** The current tenant's number of notes, from the cache when it holds it. */
  public long count() {
    Long count = noteCounts.get("count", key -> queryLong("SELECT count(*) FROM notes"));
    return count == null ? 0 : count;
  }

  /** The word count of one of the current tenant's notes, once its job has run. */
  public Optional<Integer> words(long noteId) throws SQLException {
    try (Connection c = db.getConnection();
         PreparedStatement ps = c.prepareStatement("SELECT words FROM notes WHERE id = ? AND words IS NOT NULL")) {
      ps.setLong(1, noteId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(rs.getInt(1)) : Optional.empty();
      }
    }
  }

  private int countWords(long noteId) throws SQLException {
    try (Connection c = db.getConnection();
         PreparedStatement ps = c.prepareStatement(
             "UPDATE notes SET words = cardinality(regexp_split_to_array(trim(body), '\\s+')) WHERE id = ?"
                 + " RETURNING words")) {
      ps.setLong(1, noteId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getInt(1) : 0;   // 0: the note is gone
      }
    }
  }

  private long queryLong(String sql) throws SQLException {
    try (Connection c = db.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  @Override
  public void close() {
    worker.close();
    noteCounts.close();
    bus.close();
  }

  /** Runs against the database made by setup.sql: {@code NOTES_DB_URL} and the three roles' passwords. */
  public static void main(String[] args) throws Exception {
    String url = env("NOTES_DB_URL", "jdbc:postgresql://127.0.0.1:5432/notes");
    try (HikariDataSource owner = pool(url, "notes_owner", env("NOTES_OWNER_PASSWORD", "owner-change-me"));
         HikariDataSource app = pool(url, "notes_app", env("NOTES_APP_PASSWORD", "app-change-me"));
         HikariDataSource worker = pool(url, "notes_worker", env("NOTES_WORKER_PASSWORD", "worker-change-me"))) {
      migrate(owner, "notes_app", "notes_worker");
      try (NotesApp notes = start(app, worker)) {
        TenantId acme = TenantId.of("acme");
        long id = TenantContext.call(acme, () -> notes.add("hello from acme"));
        System.out.println("acme has " + TenantContext.call(acme, notes::count) + " note(s), globex "
            + TenantContext.call(TenantId.of("globex"), notes::count));
        for (int i = 0; i < 100 && TenantContext.call(acme, () -> notes.words(id)).isEmpty(); i++) {
          Thread.sleep(100);
        }
        System.out.println("note " + id + ": " + TenantContext.call(acme, () -> notes.words(id))
            .map(words -> words + " words").orElse("not counted yet"));
      }
    }
  }

  private static HikariDataSource pool(String url, String user, String password) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setUsername(user);
    config.setPassword(password);
    config.setMaximumPoolSize(5);
    return new HikariDataSource(config);
  }

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : value;
  }
}
