/** Implementation of saas-cache; not API, may change in any release. */
@NullMarked
package dev.saaskit.cache.internal;

import org.jspecify.annotations.NullMarked;
