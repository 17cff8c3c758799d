/**
 * Test kit for code that runs on PostgreSQL: a fresh database per test class on one shared server, with an owner
 * role and an application role that behave like production ({@link dev.saaskit.testing.PostgresExtension},
 * {@link dev.saaskit.testing.TestDatabase}, {@link dev.saaskit.testing.PostgresServer}), and assertions that one
 * tenant cannot see or change another tenant's rows ({@link dev.saaskit.testing.IsolationAssertions}).
 */
@NullMarked
package dev.saaskit.testing;

import org.jspecify.annotations.NullMarked;
