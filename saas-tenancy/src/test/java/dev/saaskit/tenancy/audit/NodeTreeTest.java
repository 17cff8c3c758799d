package dev.saaskit.tenancy.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.tenancy.audit.internal.NodeTree;
import dev.saaskit.tenancy.audit.internal.NodeTree.Atom;
import dev.saaskit.tenancy.audit.internal.NodeTree.Datum;
import dev.saaskit.tenancy.audit.internal.NodeTree.Lst;
import dev.saaskit.tenancy.audit.internal.NodeTree.Nil;
import dev.saaskit.tenancy.audit.internal.NodeTree.Node;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pg_node_tree reader on trees as PostgreSQL writes them. */
class NodeTreeTest {
  /** The stored USING of saaskit's generated policy, as PostgreSQL 15 wrote it. */
  static final String GENERATED_POLICY = "{OPEXPR :opno 2972 :opfuncid 2956 :opresulttype 16 :opretset false"
      + " :opcollid 0 :inputcollid 0 :args ({VAR :varno 1 :varattno 2 :vartype 2950 :vartypmod -1 :varcollid 0"
      + " :varlevelsup 0 :varnosyn 1 :varattnosyn 2 :location 29} {SUBLINK :subLinkType 4 :subLinkId 0 :testexpr <>"
      + " :operName <> :subselect {QUERY :commandType 1 :querySource 0 :canSetTag true :utilityStmt <>"
      + " :resultRelation 0 :rtable <> :jointree {FROMEXPR :fromlist <> :quals <>} :targetList ({TARGETENTRY :expr"
      + " {COERCEVIAIO :arg {NULLIFEXPR :opno 98 :opfuncid 67 :args ({FUNCEXPR :funcid 3294 :funcresulttype 25"
      + " :funcretset false :funcvariadic false :funcformat 0 :funccollid 100 :inputcollid 100 :args ({CONST"
      + " :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false"
      + " :location 72 :constvalue 17 [ 68 0 0 0 97 112 112 46 116 101 110 97 110 116 95 105 100 ]} {CONST"
      + " :consttype 16 :consttypmod -1 :constcollid 0 :constlen 1 :constbyval true :constisnull false :location 89"
      + " :constvalue 1 [ 1 0 0 0 0 0 0 0 ]}) :location 56} {CONST :consttype 25 :consttypmod -1 :constcollid 100"
      + " :constlen -1 :constbyval false :constisnull false :location 96 :constvalue 4 [ 16 0 0 0 ]}) :location 49}"
      + " :resulttype 2950 :resultcollid 0 :coerceformat 1 :location 99} :resno 1 :resname nullif"
      + " :ressortgroupref 0 :resorigtbl 0 :resorigcol 0 :resjunk false}) :stmt_location 0 :stmt_len 0}"
      + " :location 41}) :location 39}";

  @Test
  void readsNodesFieldsListsAndDatums() {
    Node op = (Node) NodeTree.parse(GENERATED_POLICY);
    assertThat(op.type()).isEqualTo("OPEXPR");
    assertThat(op.number("opno", 0)).isEqualTo(2972);
    List<NodeTree.Value> args = op.list("args");
    assertThat(args).hasSize(2);
    Node var = (Node) args.get(0);
    assertThat(var.is("VAR")).isTrue();
    assertThat(var.number("varattno", 0)).isEqualTo(2);
    assertThat(var.text("varlevelsup")).isEqualTo("0");
    Node sublink = (Node) args.get(1);
    assertThat(sublink.get("testexpr")).isEqualTo(Nil.NIL);
    assertThat(((Node) sublink.get("subselect")).is("QUERY")).isTrue();

    List<Node> consts = new ArrayList<>();
    List<Integer> depths = new ArrayList<>();
    NodeTree.walk(op, 0, (n, depth) -> {
      if (n.is("CONST")) {
        consts.add(n);
        depths.add(depth);
      }
      return true;
    });
    assertThat(consts).hasSize(3);
    assertThat(depths).containsOnly(1); // inside the sub-query
    Datum name = (Datum) consts.get(0).get("constvalue");
    assertThat(name.length()).isEqualTo(17);
    assertThat(new String(name.bytes(), 4, 13, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("app.tenant_id");
  }

  @Test
  void walkCanSkipChildren() {
    List<String> seen = new ArrayList<>();
    NodeTree.walk(NodeTree.parse(GENERATED_POLICY), 0, (n, d) -> {
      seen.add(n.type());
      return !n.is("SUBLINK");
    });
    assertThat(seen).containsExactly("OPEXPR", "VAR", "SUBLINK");
  }

  @Test
  void readsEscapesQuotedStringsNegativeBytesAndEmptyFields() {
    Node n = (Node) NodeTree.parse("{ALIAS :aliasname my\\ view\\(x\\) :colnames (\"tenant_id\" \"a\\ b\" \"\")"
        + " :empty :constvalue 2 [ -1 127 ] :ints (i 1 2)}");
    assertThat(n.text("aliasname")).isEqualTo("my view(x)");
    List<NodeTree.Value> names = n.list("colnames");
    assertThat(names).containsExactly(new Atom("tenant_id", true), new Atom("a b", true), new Atom("", true));
    assertThat(n.get("empty")).isEqualTo(Nil.NIL);
    Datum d = (Datum) n.get("constvalue");
    assertThat(d.bytes()).containsExactly((byte) 0xff, (byte) 127);
    assertThat(((Lst) n.get("ints")).items()).containsExactly(new Atom("i", false), new Atom("1", false),
        new Atom("2", false));
    assertThat(n.get("missing")).isEqualTo(Nil.NIL);
    assertThat(n.number("missing", -7)).isEqualTo(-7);
  }

  @Test
  void rejectsMalformedTrees() {
    assertThatThrownBy(() -> NodeTree.parse("{OPEXPR :opno 1")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NodeTree.parse("(1 2")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NodeTree.parse("{A :x 1} extra")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NodeTree.parse("{A x}")).isInstanceOf(IllegalArgumentException.class);
  }
}
