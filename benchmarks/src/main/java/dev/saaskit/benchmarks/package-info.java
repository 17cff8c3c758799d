/** JMH benchmarks of tenancy and caching against the approaches saaskit replaces; results in docs/benchmarks.md. */
@NullMarked
package dev.saaskit.benchmarks;

import org.jspecify.annotations.NullMarked;
