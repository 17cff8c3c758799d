package dev.saaskit.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobCount;
import dev.saaskit.jobs.JobStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** Text and JSON renderings of jobs for the {@code jobs} commands. */
final class JobsOutput {
  private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();
  private static final String NONE = "-";

  private JobsOutput() {}

  /** A table, one job per line, newest first. */
  static String listText(List<JobStatus> jobs) {
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"ID", "STATE", "QUEUE", "TYPE", "TENANT", "ATTEMPTS", "RUN AT", "FINISHED"});
    for (JobStatus j : jobs) {
      rows.add(new String[] {j.id().toString(), j.state().dbValue(), j.queue(), j.type(), tenant(j),
          j.attempts() + "/" + j.maxAttempts(), text(j.runAt()), text(j.finishedAt())});
    }
    return table(rows);
  }

  /** {@code {"jobs": [...], "next": "<id>" | null}}: {@code next} is the cursor for --before, when the page is full. */
  static String listJson(List<JobStatus> jobs, boolean full) {
    ObjectNode root = JSON.createObjectNode();
    ArrayNode array = root.putArray("jobs");
    jobs.forEach(j -> array.add(json(j, null)));
    if (full && !jobs.isEmpty()) {
      root.put("next", jobs.get(jobs.size() - 1).id().toString());
    } else {
      root.putNull("next");
    }
    return write(root);
  }

  /** One job, one field per line, the last error (a stack trace) indented at the end. */
  static String showText(JobStatus j, @Nullable String payload) {
    StringBuilder out = new StringBuilder("job ").append(j.id()).append('\n');
    field(out, "state", j.state().dbValue());
    field(out, "tenant", tenant(j));
    field(out, "queue", j.queue());
    field(out, "type", j.type());
    field(out, "priority", Integer.toString(j.priority()));
    field(out, "attempts", j.attempts() + " of " + j.maxAttempts());
    Duration timeout = j.timeout();
    field(out, "timeout", timeout == null ? "(the worker's setting)" : timeout.toString());
    field(out, "unique key", j.uniqueKey() == null ? NONE : j.uniqueKey());
    field(out, "cancel requested", j.cancelRequested() ? "yes" : "no");
    Double progress = j.progress();
    String message = j.progressMessage();
    field(out, "progress", progress == null ? NONE
        : Math.round(progress * 1000) / 10.0 + "%" + (message == null ? "" : " " + message));
    field(out, "created", text(j.createdAt()));
    field(out, "run at", text(j.runAt()));
    field(out, "started", text(j.startedAt()));
    field(out, "finished", text(j.finishedAt()));
    field(out, "result", j.resultJson() == null ? NONE : j.resultJson());
    if (payload != null) {
      field(out, "payload", payload);
    }
    String error = j.lastError();
    if (error == null) {
      field(out, "last error", NONE);
    } else {
      out.append("  last error:\n");
      for (String line : error.split("\\R", -1)) {
        out.append("    ").append(line).append('\n');
      }
    }
    return out.toString();
  }

  static String showJson(JobStatus j, @Nullable String payload) {
    return write(json(j, payload));
  }

  static String countsText(List<JobCount> counts) {
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"QUEUE", "STATE", "COUNT"});
    for (JobCount c : counts) {
      rows.add(new String[] {c.queue(), c.state().dbValue(), Long.toString(c.count())});
    }
    return table(rows);
  }

  /** {@code {"counts": [{"queue", "state", "count"}]}}. */
  static String countsJson(List<JobCount> counts) {
    ObjectNode root = JSON.createObjectNode();
    ArrayNode array = root.putArray("counts");
    for (JobCount c : counts) {
      array.addObject().put("queue", c.queue()).put("state", c.state().dbValue()).put("count", c.count());
    }
    return write(root);
  }

  private static ObjectNode json(JobStatus j, @Nullable String payload) {
    ObjectNode o = JSON.createObjectNode();
    o.put("id", j.id().toString());
    // a row whose tenant_id is not a valid tenant id shows the stored text, flagged, so a listing never fails on it
    TenantId tenant = j.tenant();
    o.put("tenant", tenant != null ? tenant.value() : j.invalidTenantId());
    if (j.invalidTenantId() != null) {
      o.put("invalidTenant", true);
    }
    o.put("queue", j.queue());
    o.put("type", j.type());
    o.put("state", j.state().dbValue());
    o.put("priority", j.priority());
    o.put("attempts", j.attempts());
    o.put("maxAttempts", j.maxAttempts());
    Duration timeout = j.timeout();
    if (timeout == null) {
      o.putNull("timeoutMillis");
    } else {
      o.put("timeoutMillis", timeout.toMillis());
    }
    o.put("uniqueKey", j.uniqueKey());
    o.put("cancelRequested", j.cancelRequested());
    o.put("progress", j.progress());
    o.put("progressMessage", j.progressMessage());
    o.set("result", parse(j.resultJson()));
    o.put("lastError", j.lastError());
    o.put("createdAt", iso(j.createdAt()));
    o.put("runAt", iso(j.runAt()));
    o.put("startedAt", iso(j.startedAt()));
    o.put("finishedAt", iso(j.finishedAt()));
    if (payload != null) {
      o.set("payload", parse(payload));
    }
    return o;
  }

  private static @Nullable JsonNode parse(@Nullable String json) {
    if (json == null) {
      return null;
    }
    try {
      return JSON.readTree(json);
    } catch (JsonProcessingException e) { // jsonb from the database is valid JSON; keep the text if not
      return JSON.getNodeFactory().textNode(json);
    }
  }

  static String write(JsonNode node) {
    try {
      return JSON.writeValueAsString(node) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void field(StringBuilder out, String name, @Nullable String value) {
    out.append("  ").append(name).append(':').append(" ".repeat(Math.max(1, 18 - name.length())))
        .append(value == null ? NONE : value).append('\n');
  }

  private static String tenant(JobStatus j) {
    TenantId tenant = j.tenant();
    if (tenant != null) {
      return tenant.value();
    }
    String invalid = j.invalidTenantId();
    return invalid == null ? "(none)" : "(invalid: '" + visible(invalid) + "')";
  }

  /**
   * The stored value with control and format characters written as a backslash, {@code u} and four hex digits: a
   * row written by hand must not drive the operator's terminal.
   */
  static String visible(String text) {
    StringBuilder out = new StringBuilder(text.length());
    text.chars().forEach(c -> {
      if (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT) {
        out.append(String.format("\\u%04X", c));
      } else {
        out.append((char) c);
      }
    });
    return out.toString();
  }

  static @Nullable String iso(@Nullable Instant instant) {
    return instant == null ? null : instant.toString();
  }

  static String text(@Nullable Instant instant) {
    return instant == null ? NONE : instant.toString();
  }

  static String table(List<String[]> rows) {
    int[] widths = new int[rows.get(0).length];
    for (String[] row : rows) {
      for (int i = 0; i < row.length; i++) {
        widths[i] = Math.max(widths[i], row[i].length());
      }
    }
    StringBuilder out = new StringBuilder();
    for (String[] row : rows) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < row.length; i++) {
        line.append(row[i]);
        if (i < row.length - 1) {
          line.append(" ".repeat(widths[i] - row[i].length() + 2));
        }
      }
      out.append(line.toString().stripTrailing()).append('\n');
    }
    return out.toString();
  }
}
