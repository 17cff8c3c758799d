package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What the app logs of a request (a path, an exception message) cannot forge or rewrite a log line. */
class LogTextTest {
  @Test
  void controlAndBidiCharactersAreEscaped() {
    assertThat(LogText.of("/api/projects/42")).isEqualTo("/api/projects/42");
    assertThat(LogText.of("/api/x\n12:00:00.000 [main] ERROR Api - forged\r"))
        .isEqualTo("/api/x\\n12:00:00.000 [main] ERROR Api - forged\\r")
        .doesNotContain("\n");
    assertThat(LogText.of("a\\nb\tc")).isEqualTo("a\\\\nb\\tc");
    assertThat(LogText.of("\u001b[2J\u0085\u009b\u007f")).isEqualTo("\\u001B[2J\\u0085\\u009B\\u007F");
    assertThat(LogText.of("x\u202Ey\u2067z\u200E\u2028\u2029")).isEqualTo("x\\u202Ey\\u2067z\\u200E\\u2028\\u2029");
    assertThat(LogText.of("lone \udc00 and \ud83d\ude00")).isEqualTo("lone \\uDC00 and \ud83d\ude00");
    assertThat(LogText.of(new IllegalStateException("boom\nnext"))).isEqualTo(
        "java.lang.IllegalStateException: boom\\nnext");
    assertThat(LogText.of(null)).isEqualTo("null");
    assertThat(LogText.of("z".repeat(LogText.MAX_LENGTH + 2))).isEqualTo("z".repeat(LogText.MAX_LENGTH)
        + "...(2 more characters)");
  }
}
