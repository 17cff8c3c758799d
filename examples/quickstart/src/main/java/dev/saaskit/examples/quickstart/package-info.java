/** The quickstart program: tenancy, jobs and cache against one PostgreSQL database, section by section. */
@NullMarked
package dev.saaskit.examples.quickstart;

import org.jspecify.annotations.NullMarked;
