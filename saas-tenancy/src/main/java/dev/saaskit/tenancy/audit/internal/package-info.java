/** Implementation of the RLS audit: catalog queries, node-tree reading, rules and output writers. Not API. */
@NullMarked
package dev.saaskit.tenancy.audit.internal;

import org.jspecify.annotations.NullMarked;
