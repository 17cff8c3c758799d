package dev.saaskit.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Values from requests cannot forge or rewrite log lines. */
class LogTextTest {
  @Test
  void controlAndBidiCharactersAreEscaped() {
    assertThat(LogText.of("plain user-42@example.com")).isEqualTo("plain user-42@example.com");
    assertThat(LogText.of("a\nb\rc\td")).isEqualTo("a\\nb\\rc\\td");
    assertThat(LogText.of("back\\nslash")).as("a literal backslash-n stays distinguishable")
        .isEqualTo("back\\\\nslash");
    assertThat(LogText.of("esc\u001b[31mred\u0000nul\u007fdel\u0085nel\u009bcsi"))
        .isEqualTo("esc\\u001B[31mred\\u0000nul\\u007Fdel\\u0085nel\\u009Bcsi");
    assertThat(LogText.of("invoice\u202Egpj.exe \u2066x\u2069 \u200F \u061C \u2028 \u2029"))
        .isEqualTo("invoice\\u202Egpj.exe \\u2066x\\u2069 \\u200F \\u061C \\u2028 \\u2029");
    assertThat(LogText.of("lone \ud800 surrogate")).isEqualTo("lone \\uD800 surrogate");
    String kept = "emoji \ud83d\ude00 and \u00e9\u200d kept";
    assertThat(LogText.of(kept)).isSameAs(kept);
    assertThat(LogText.of(null)).isEqualTo("null");
    assertThat(LogText.of(new IllegalStateException("bad\nline"))).isEqualTo(
        "java.lang.IllegalStateException: bad\\nline");
    String longValue = "x".repeat(LogText.MAX_LENGTH + 5);
    assertThat(LogText.of(longValue)).isEqualTo("x".repeat(LogText.MAX_LENGTH) + "...(5 more characters)");
    String cutPair = "y".repeat(LogText.MAX_LENGTH - 1) + "\ud83d\ude00z";
    assertThat(LogText.of(cutPair)).as("a pair is never cut in two")
        .isEqualTo("y".repeat(LogText.MAX_LENGTH - 1) + "...(3 more characters)");
  }
}
