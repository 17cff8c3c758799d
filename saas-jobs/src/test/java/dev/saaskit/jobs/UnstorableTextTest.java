package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.as;
import static dev.saaskit.jobs.QueueFixtures.job;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Texts Jackson accepts but PostgreSQL cannot store as they are: an escaped NUL (jsonb refuses it) and an unpaired
 * surrogate (jsonb refuses it escaped; the driver sends '?' for it raw, so the row silently held something else).
 * They are refused up front with an {@link IllegalArgumentException} that says why, and nothing else is.
 */
@ExtendWith(PostgresExtension.class)
class UnstorableTextTest {
  record Note(String text) {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static TestDatabase db;
  private static JobQueue queue;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    QueueFixtures.setUp(db);
    queue = JobQueue.builder(db.appDataSource()).build();
  }

  @Test
  void aPayloadWithANulCharacterIsAnIllegalArgumentNotADatabaseError() {
    assertThatThrownBy(() -> as(ACME, () -> queue.enqueue(JobRequest.builder("note", new Note("a\u0000b")).build())))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NUL");
    assertThatThrownBy(() -> JobRequest.builder("note", null).payloadJson("{\"text\": \"a\\u0000b\"}"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NUL");
  }

  @Test
  void aPayloadWithAnUnpairedSurrogateIsRefusedRatherThanStoredAsAQuestionMark() {
    assertThatThrownBy(() -> as(ACME, () -> queue.enqueue(JobRequest.builder("note", new Note("a\uD800b")).build())))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unpaired surrogate");
    assertThatThrownBy(() -> as(ACME, () -> queue.enqueue(JobRequest.builder("note", new Note("\uDC00")).build())))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unpaired surrogate");
    assertThatThrownBy(() -> JobRequest.builder("note", null).payloadJson("{\"text\": \"a\\ud800b\"}"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unpaired surrogate");
    assertThatThrownBy(() -> JobRequest.builder("note", null).payloadJson("[\"\\uDE00\"]"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unpaired surrogate");
  }

  @Test
  void storableLookAlikesAreStoredUnchanged() throws Exception {
    // an escaped backslash followed by the text u0000, a surrogate pair escaped and raw
    String tricky = "C:\\u0000 \uD83D\uDE00";
    JobId id = as(ACME, () -> queue.enqueue(JobRequest.builder("note", new Note(tricky)).build()));
    assertThat(JSON.readTree((String) job(db, id).get("payload_text")).get("text").asText()).isEqualTo(tricky);
    JobId escaped = as(ACME, () -> queue.enqueue(JobRequest.builder("note", null)
        .payloadJson("{\"text\": \"\\\\u0000 \\ud83d\\ude00\"}").build()));
    assertThat(JSON.readTree((String) job(db, escaped).get("payload_text")).get("text").asText())
        .isEqualTo("\\u0000 \uD83D\uDE00");
  }

  @Test
  void uniqueKeysThatDifferOnlyByAnUnpairedSurrogateAreNotMergedIntoOne() {
    JobId plain = as(ACME, () -> queue.enqueue(JobRequest.builder("note", null).uniqueKey("k?").build()));
    assertThatThrownBy(() -> JobRequest.builder("note", null).uniqueKey("k\uD800"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unpaired surrogate");
    assertThat(job(db, plain).get("unique_key")).isEqualTo("k?");
    JobId emoji = as(ACME, () -> queue.enqueue(JobRequest.builder("note", null).uniqueKey("k\uD83D\uDE00").build()));
    assertThat(emoji).isNotEqualTo(plain);
    assertThat(job(db, emoji).get("unique_key")).isEqualTo("k\uD83D\uDE00");
  }

  @Test
  void aResultHoldingABackslashAndU0000AsTextIsStored() throws Exception {
    WorkerTestKit kit = WorkerTestKit.setUp(db);
    try (HikariDataSource pool = kit.workerPool("unstorable-result-test", 6);
        JobWorker worker = JobWorker.builder(pool).queue("results", 2).pollInterval(Duration.ofMillis(200))
            .closeTimeout(Duration.ofSeconds(5))
            .handler(JobType.of("path", JsonNode.class), (payload, ctx) -> new Note("C:\\u0000dir"))
            .handler(JobType.of("lone", JsonNode.class), (payload, ctx) -> new Note("x\uD800"))
            .build().start()) {
      long path = kit.insert("acme", "results", "path", "{}");
      long lone = kit.insert("acme", "results", "lone", "{}");
      kit.awaitState(path, "completed", Duration.ofSeconds(20));
      kit.awaitState(lone, "completed", Duration.ofSeconds(20));
      assertThat(kit.row(path).result()).isNotNull();
      assertThat(JSON.readTree(kit.row(path).result()).get("text").asText()).isEqualTo("C:\\u0000dir");
      // not "x?": the result is dropped with a note saying why
      assertThat(kit.row(lone).result()).isNull();
      assertThat(kit.row(lone).lastError()).contains("unpaired surrogate");
    }
  }
}
