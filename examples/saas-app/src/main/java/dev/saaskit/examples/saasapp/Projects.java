package dev.saaskit.examples.saasapp;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The tenant's projects: plain SQL through saas-tenancy's {@code TenantDataSource}. No query names a tenant:
 * row-level security keeps each tenant to its own rows and fills {@code tenant_id} on insert.
 */
final class Projects {
  /** A project as the API shows it. */
  record Project(UUID id, String name, Instant createdAt) {}

  private final DataSource db;

  Projects(DataSource tenantDataSource) {
    this.db = tenantDataSource;
  }

  /**
   * Up to {@code limit} projects after {@code after} (null: from the first) in creation order ({@code created_at},
   * then {@code id}: a total order, so keyset pages neither skip nor repeat a project).
   */
  List<Project> list(@Nullable Project after, int limit) throws SQLException {
    List<Project> projects = new ArrayList<>();
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT id, name, created_at FROM projects"
            + (after == null ? "" : " WHERE (created_at, id) > (?, ?)") + " ORDER BY created_at, id LIMIT ?")) {
      int i = 1;
      if (after != null) {
        ps.setObject(i++, OffsetDateTime.ofInstant(after.createdAt(), ZoneOffset.UTC));
        ps.setObject(i++, after.id());
      }
      ps.setInt(i, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          projects.add(read(rs));
        }
      }
    }
    return projects;
  }

  Optional<Project> find(UUID id) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT id, name, created_at FROM projects WHERE id = ?")) {
      ps.setObject(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(read(rs)) : Optional.empty();
      }
    }
  }

  /**
   * Adds a project unless the tenant already has {@code limit}: the count and the insert run in one transaction
   * under a per-tenant lock, so two concurrent requests cannot both take the last slot.
   *
   * @return the project, or empty when the limit is reached (nothing written)
   */
  Optional<Project> create(String name, long limit) throws SQLException {
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      try {
        try (PreparedStatement lock = c.prepareStatement(
            "SELECT pg_advisory_xact_lock(hashtext('projects:' || current_setting('app.tenant_id', true)))")) {
          lock.execute();
        }
        long count;
        try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM projects");
            ResultSet rs = ps.executeQuery()) {
          rs.next();
          count = rs.getLong(1);
        }
        if (count >= limit) {
          c.rollback();
          return Optional.empty();
        }
        Project project;
        try (PreparedStatement ps = c.prepareStatement(
            "INSERT INTO projects (name) VALUES (?) RETURNING id, name, created_at")) {
          ps.setString(1, name);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            project = read(rs);
          }
        }
        c.commit();
        return Optional.of(project);
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    }
  }

  /** Deletes a project of the current tenant; false when it has none with that id. */
  boolean delete(UUID id) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("DELETE FROM projects WHERE id = ?")) {
      ps.setObject(1, id);
      return ps.executeUpdate() == 1;
    }
  }

  long count() throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM projects");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static Project read(ResultSet rs) throws SQLException {
    return new Project(rs.getObject(1, UUID.class), rs.getString(2),
        rs.getObject(3, OffsetDateTime.class).toInstant());
  }
}
