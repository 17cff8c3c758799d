package dev.saaskit.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.SaasException;
import java.util.Map;
import org.junit.jupiter.api.Test;

// The database side (apply, locking, checksums) is exercised by the modules that ship migrations, against a real
// PostgreSQL; saas-core cannot depend on saas-testing.
class SchemaMigrationsTest {

  @Test
  void listsScriptsInOrderSkippingComments() {
    var migrations = new SchemaMigrations(getClass(), "db/test/good", "s", Map.of());
    assertThat(migrations.scriptNames()).containsExactly("V1__first.sql", "V2__second.sql");
  }

  @Test
  void rejectsVersionsOutOfOrder() {
    var migrations = new SchemaMigrations(getClass(), "db/test/bad", "s", Map.of());
    assertThatThrownBy(migrations::scriptNames).isInstanceOf(SaasException.class).hasMessageContaining("increasing");
  }

  @Test
  void missingFolderIsNamed() {
    var migrations = new SchemaMigrations(getClass(), "db/test/none", "s", Map.of());
    assertThatThrownBy(migrations::scriptNames).hasMessageContaining("db/test/none/migrations.list");
  }

  @Test
  void rejectsOverlongSchemaNames() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> new SchemaMigrations(getClass(), "db/test/good", "x".repeat(64), Map.of()));
  }

  @Test
  void quotesNamesAndLiterals() {
    assertThat(SqlNames.quoteIdent("a\"b")).isEqualTo("\"a\"\"b\"");
    assertThat(SqlNames.quoteLiteral("it's \\")).isEqualTo("E'it''s \\\\'");
  }
}
