/**
 * How each module's cost grows with its work (issue 17): cache hits against entries and tenants, the job claim
 * against pending jobs and tenants, the RLS overhead against table rows. {@link dev.saaskit.benchmarks.scaling.Scaling}
 * runs them, writes a Markdown table and a data file per series and plots each with gnuplot; the figures and their
 * reading are in docs/benchmarks.md, section "Scaling".
 */
@NullMarked
package dev.saaskit.benchmarks.scaling;

import org.jspecify.annotations.NullMarked;
