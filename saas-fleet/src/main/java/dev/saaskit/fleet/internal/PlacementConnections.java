package dev.saaskit.fleet.internal;

import dev.saaskit.fleet.CredentialResolver;
import dev.saaskit.fleet.Credentials;
import dev.saaskit.fleet.FleetException;
import dev.saaskit.fleet.Placement;
import dev.saaskit.fleet.TenantDirectory;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/** Unpooled connections to a placement with its admin credentials, for lifecycle work. Not API. */
public final class PlacementConnections {
  private PlacementConnections() {}

  public static Connection admin(TenantDirectory directory, Placement placement) {
    Credentials c = directory.credentials(placement, CredentialResolver.Access.ADMIN);
    Properties props = new Properties();
    props.setProperty("user", c.user());
    props.setProperty("password", c.password());
    props.setProperty("ApplicationName", "saaskit-fleet-admin");
    try {
      return DriverManager.getConnection(directory.jdbcUrl(placement), props);
    } catch (SQLException e) {
      throw new FleetException("cannot connect to " + placement.describe() + ": " + e.getMessage(), e);
    }
  }
}
