/**
 * Implementation of the saaskit test kit: server providers (embedded, URL, Testcontainers), database and role
 * set-up and tear-down. Not API: anything here may change in any release.
 */
@NullMarked
package dev.saaskit.testing.internal;

import org.jspecify.annotations.NullMarked;
