/**
 * Helpers shared by saaskit modules (SQL names, schema migrations). Not API: may change in any release; apps
 * should not use them.
 */
@NullMarked
package dev.saaskit.core.internal;

import org.jspecify.annotations.NullMarked;
