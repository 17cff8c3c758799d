package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantSetting;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class RlsPolicyTest {

  @Test
  void uuidPolicyWithDefaults() {
    RlsPolicy policy = RlsPolicy.forTable("orders").columnType(TenantColumnType.UUID).build();

    assertThat(policy.statements()).containsExactly(
        "ALTER TABLE \"orders\" ALTER COLUMN \"tenant_id\" SET DEFAULT"
            + " nullif(current_setting('app.tenant_id', true), '')::uuid",
        "CREATE INDEX IF NOT EXISTS \"orders_tenant_id_idx\" ON \"orders\" (\"tenant_id\")",
        "ALTER TABLE \"orders\" ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE \"orders\" FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS \"tenant_isolation\" ON \"orders\"",
        "CREATE POLICY \"tenant_isolation\" ON \"orders\" AS PERMISSIVE FOR ALL TO PUBLIC"
            + " USING (\"tenant_id\" = (select nullif(current_setting('app.tenant_id', true), '')::uuid))"
            + " WITH CHECK (\"tenant_id\" = (select nullif(current_setting('app.tenant_id', true), '')::uuid))");
    assertThat(policy.usingExpression())
        .isEqualTo("\"tenant_id\" = (select nullif(current_setting('app.tenant_id', true), '')::uuid)");
    assertThat(policy.indexName()).contains("orders_tenant_id_idx");
  }

  @Test
  void bigintPolicyInSchemaWithOptions() {
    RlsPolicy policy = RlsPolicy.forTable("billing", "invoices")
        .tenantColumn("account_id")
        .columnType(TenantColumnType.BIGINT)
        .tenantSetting(TenantSetting.of("myapp.account"))
        .policyName("account_isolation")
        .roles("app_rw", "app_ro")
        .indexColumns("created_at", "id")
        .build();

    String cast = "(select nullif(current_setting('myapp.account', true), '')::bigint)";
    assertThat(policy.statements()).containsExactly(
        "ALTER TABLE \"billing\".\"invoices\" ALTER COLUMN \"account_id\" SET DEFAULT"
            + " nullif(current_setting('myapp.account', true), '')::bigint",
        "CREATE INDEX IF NOT EXISTS \"invoices_account_id_created_at_id_idx\" ON \"billing\".\"invoices\""
            + " (\"account_id\", \"created_at\", \"id\")",
        "ALTER TABLE \"billing\".\"invoices\" ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE \"billing\".\"invoices\" FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS \"account_isolation\" ON \"billing\".\"invoices\"",
        "CREATE POLICY \"account_isolation\" ON \"billing\".\"invoices\" AS PERMISSIVE FOR ALL TO \"app_rw\", \"app_ro\""
            + " USING (\"account_id\" = " + cast + ") WITH CHECK (\"account_id\" = " + cast + ")");
  }

  @Test
  void textPolicyWithoutIndex() {
    RlsPolicy policy = RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).index(false).build();

    assertThat(policy.statements()).hasSize(5).noneMatch(s -> s.contains("INDEX"));
    assertThat(policy.statements().get(0)).endsWith("::text");
    assertThat(policy.usingExpression()).endsWith("::text)");
    assertThat(policy.indexName()).isEmpty();
  }

  @Test
  void toSqlIsAMigrationScript() {
    RlsPolicy policy = RlsPolicy.forTable("orders").columnType(TenantColumnType.UUID).build();

    assertThat(policy.toSql()).isEqualTo(String.join(";\n", policy.statements()) + ";");
    assertThat(policy.toSql().split(";\n")).hasSize(6);
    assertThat(policy.statements()).noneMatch(s -> s.endsWith(";"));
  }

  @Test
  void typesKnowTheirSqlNames() {
    assertThat(TenantColumnType.UUID.sqlType()).isEqualTo("uuid");
    assertThat(TenantColumnType.BIGINT.sqlType()).isEqualTo("bigint");
    assertThat(TenantColumnType.TEXT.sqlType()).isEqualTo("text");
  }

  @Test
  void weirdNamesAreQuotedExactly() {
    RlsPolicy policy = RlsPolicy.forTable("My Schema", "Order \"Lines\"")
        .tenantColumn("Tenant Ünit")
        .columnType(TenantColumnType.TEXT)
        .policyName("pol; drop")
        .roles("App Role")
        .build();

    List<String> s = policy.statements();
    assertThat(s.get(0)).startsWith(
        "ALTER TABLE \"My Schema\".\"Order \"\"Lines\"\"\" ALTER COLUMN \"Tenant Ünit\" SET DEFAULT ");
    assertThat(s.get(1)).isEqualTo("CREATE INDEX IF NOT EXISTS \"Order \"\"Lines\"\"_Tenant Ünit_idx\" ON"
        + " \"My Schema\".\"Order \"\"Lines\"\"\" (\"Tenant Ünit\")");
    assertThat(s.get(4)).isEqualTo("DROP POLICY IF EXISTS \"pol; drop\" ON \"My Schema\".\"Order \"\"Lines\"\"\"");
    assertThat(s.get(5)).contains(" TO \"App Role\" USING (\"Tenant Ünit\" = (select ");
  }

  @Test
  void publicRoleNameMeansTheKeyword() {
    RlsPolicy policy = RlsPolicy.forTable("t").columnType(TenantColumnType.UUID).roles("public").build();
    assertThat(policy.statements().get(5)).contains(" FOR ALL TO PUBLIC USING ");

    RlsPolicy none = RlsPolicy.forTable("t").columnType(TenantColumnType.UUID).roles("a").roles().build();
    assertThat(none.statements().get(5)).contains(" FOR ALL TO PUBLIC USING ");
  }

  @Test
  void missingColumnTypeIsReported() {
    assertThatThrownBy(() -> RlsPolicy.forTable("orders").build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("columnType is required for the tenant policy on \"orders\": call"
            + " columnType(TenantColumnType.UUID, BIGINT or TEXT) to match the type of column \"tenant_id\"");
  }

  @Test
  void emptyNamesAreRejected() {
    assertThatThrownBy(() -> RlsPolicy.forTable(""))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("table name must not be empty");
    assertThatThrownBy(() -> RlsPolicy.forTable("", "t"))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("schema name must not be empty");
    assertThatThrownBy(() -> RlsPolicy.forTable("t").tenantColumn(""))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("tenant column name must not be empty");
    assertThatThrownBy(() -> RlsPolicy.forTable("t").policyName(""))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("policy name must not be empty");
    assertThatThrownBy(() -> RlsPolicy.forTable("t").roles("ok", ""))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("role name must not be empty");
    assertThatThrownBy(() -> RlsPolicy.forTable("t").indexColumns(""))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("index column name must not be empty");
    assertThatThrownBy(() -> RlsPolicy.forTable("a\0b"))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("table name must not contain a NUL character");
    assertThatThrownBy(() -> RlsPolicy.forTable("a\uD800b"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("table name must be valid Unicode but has an unpaired surrogate at index 1: 'a\uD800b'");
  }

  @Test
  void namesLongerThan63BytesAreRejected() {
    String ok = "a".repeat(63);
    String tooLong = "a".repeat(64);
    String tooLongUtf8 = "é".repeat(32); // 32 characters, 64 bytes

    assertThat(RlsPolicy.forTable(ok).columnType(TenantColumnType.UUID).build().statements()).isNotEmpty();
    assertThatThrownBy(() -> RlsPolicy.forTable(tooLong))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("table name must be at most 63 bytes in UTF-8 (PostgreSQL would truncate it) but '"
            + tooLong + "' is 64");
    assertThatThrownBy(() -> RlsPolicy.forTable("t").tenantColumn(tooLongUtf8))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("tenant column name must be at most 63 bytes in UTF-8 (PostgreSQL would truncate it) but '"
            + tooLongUtf8 + "' is 64");
  }

  @Test
  void badSettingNamesAreRejected() {
    for (String bad : new String[] {"tenant_id", "app.", "app.tenant-id", "app.tenant id", "app.x'; drop", ""}) {
      assertThatThrownBy(() -> TenantSetting.of(bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("setting name must look like 'prefix.name' (letters, digits, underscores; at most 63"
              + " characters) but was '" + bad + "'");
    }
  }

  @Test
  void indexColumnsMustNotRepeatOrNameTheTenantColumn() {
    assertThatThrownBy(() -> RlsPolicy.forTable("t").indexColumns("tenant_id"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("indexColumns must not include the tenant column \"tenant_id\": the index leads with it"
            + " already; list only the columns that follow it");
    assertThatThrownBy(() -> RlsPolicy.forTable("t").indexColumns("a", "a"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("indexColumns lists \"a\" twice: [a, a]");
    assertThatThrownBy(() -> RlsPolicy.forTable("t").indexColumns("org").tenantColumn("org"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("tenant column \"org\" is also listed in indexColumns");
  }

  @Test
  void longIndexNamesAreTruncatedWithAHashDeterministically() {
    String table = "customer_subscription_line_items_with_a_very_long_name_0123456"; // 63 bytes
    RlsPolicy policy = RlsPolicy.forTable(table).columnType(TenantColumnType.UUID).indexColumns("created_at").build();
    String name = policy.indexName().orElseThrow();

    assertThat(name.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(63);
    assertThat(name).matches("customer_subscription_line_items_with_a_very_long__[0-9a-f]{8}_idx");
    assertThat(RlsPolicy.forTable(table).columnType(TenantColumnType.BIGINT).indexColumns("created_at").build()
        .indexName()).contains(name);
    // a different column list gives a different name although the readable prefix is the same
    assertThat(RlsPolicy.forTable(table).columnType(TenantColumnType.UUID).indexColumns("updated_at").build()
        .indexName().orElseThrow()).isNotEqualTo(name).startsWith("customer_subscription_line_items_with_a_very_long_");
    assertThat(policy.statements().get(1)).startsWith("CREATE INDEX IF NOT EXISTS \"" + name + "\" ON ");
  }

  @Test
  void truncationKeepsWholeMultiByteCharacters() {
    String table = "ü".repeat(31); // 62 bytes
    String name = RlsPolicy.forTable(table).columnType(TenantColumnType.TEXT).build().indexName().orElseThrow();

    byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
    assertThat(bytes.length).isLessThanOrEqualTo(63);
    assertThat(new String(bytes, StandardCharsets.UTF_8)).isEqualTo(name);
    assertThat(name).matches("ü{25}_[0-9a-f]{8}_idx");
  }

  @Test
  void nameOfExactly63BytesIsKept() {
    String table = "t".repeat(63 - "_tenant_id_idx".length());
    assertThat(RlsPolicy.forTable(table).columnType(TenantColumnType.UUID).build().indexName())
        .contains(table + "_tenant_id_idx");
  }

  @Test
  void toBuilderMakesVariantsAndPoliciesCompareByContent() {
    RlsPolicy base = RlsPolicy.forTable("orders").columnType(TenantColumnType.UUID).roles("app").build();
    RlsPolicy same = base.toBuilder().build();
    RlsPolicy variant = base.toBuilder().columnType(TenantColumnType.BIGINT).build();

    assertThat(same).isEqualTo(base).hasSameHashCodeAs(base);
    assertThat(same.statements()).isEqualTo(base.statements());
    assertThat(variant).isNotEqualTo(base);
    assertThat(variant.statements().get(0)).endsWith("::bigint");
    assertThat(variant.statements().get(5)).contains("TO \"app\"");
    assertThat(base.toString()).isEqualTo(
        "RlsPolicy[\"orders\", column \"tenant_id\" uuid, policy \"tenant_isolation\", setting app.tenant_id]");
  }

  @Test
  void statementsAreImmutable() {
    RlsPolicy policy = RlsPolicy.forTable("orders").columnType(TenantColumnType.UUID).build();
    assertThatThrownBy(() -> policy.statements().clear()).isInstanceOf(UnsupportedOperationException.class);
  }
}
