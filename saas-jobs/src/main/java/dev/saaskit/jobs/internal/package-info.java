/** Implementation of saas-jobs; not API, may change in any release. */
@NullMarked
package dev.saaskit.jobs.internal;

import org.jspecify.annotations.NullMarked;
