/**
 * Database-per-tenant and sharded fleets: {@link dev.saaskit.fleet.TenantDirectory} says where each tenant lives,
 * {@link dev.saaskit.fleet.FleetDataSource} hands out connections to the right database under one connection
 * budget, {@link dev.saaskit.fleet.FleetMigrations} migrates every database, {@link dev.saaskit.fleet.TenantMove}
 * moves a tenant between databases and {@link dev.saaskit.fleet.TenantData} exports and erases a tenant's rows.
 */
@NullMarked
package dev.saaskit.fleet;

import org.jspecify.annotations.NullMarked;
