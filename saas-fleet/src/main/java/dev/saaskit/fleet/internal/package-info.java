/**
 * The fleet's implementation: the connection budget, the pools under it, the connections handed out, the discovery
 * of a tenant's tables. Not API: it may change in any release, and {@code module-info} does not export it.
 */
@NullMarked
package dev.saaskit.fleet.internal;

import org.jspecify.annotations.NullMarked;
