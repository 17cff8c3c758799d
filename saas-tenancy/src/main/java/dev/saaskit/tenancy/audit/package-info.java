/**
 * The RLS audit: {@link dev.saaskit.tenancy.audit.RlsAudit} reads a live PostgreSQL catalog and reports, as
 * {@link dev.saaskit.tenancy.audit.Finding}s with stable rule ids, everything that weakens tenant isolation by
 * Row-Level Security: tables without RLS, open or slow policies, an application role that can bypass them, and
 * views, materialized views and SECURITY DEFINER functions that read around them. A
 * {@link dev.saaskit.tenancy.audit.Baseline} ignores accepted findings, each with a reason;
 * {@link dev.saaskit.tenancy.audit.AuditReport} prints text, JSON or SARIF.
 */
@NullMarked
package dev.saaskit.tenancy.audit;

import org.jspecify.annotations.NullMarked;
