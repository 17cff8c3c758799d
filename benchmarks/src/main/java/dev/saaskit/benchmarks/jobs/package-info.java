/** The job queue benchmark: saas-jobs and its peers, each behind a JobEngine, in the same JVM and database. */
@NullMarked
package dev.saaskit.benchmarks.jobs;

import org.jspecify.annotations.NullMarked;
