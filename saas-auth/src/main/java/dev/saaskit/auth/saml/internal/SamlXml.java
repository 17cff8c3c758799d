package dev.saaskit.auth.saml.internal;

import dev.saaskit.auth.saml.SamlException;
import dev.saaskit.auth.saml.SamlException.Reason;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.jspecify.annotations.Nullable;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;
import org.xml.sax.ErrorHandler;
import org.xml.sax.SAXException;
import org.xml.sax.SAXParseException;

/** Hardened parsing and DOM helpers for SAML messages. Messages never echo document content. */
public final class SamlXml {
  /** The SAML 2.0 protocol namespace. */
  public static final String PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol";
  /** The SAML 2.0 assertion namespace. */
  public static final String ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion";
  /** The XML signature namespace. */
  public static final String DSIG = "http://www.w3.org/2000/09/xmldsig#";
  /** The XML encryption namespace. */
  public static final String XENC = "http://www.w3.org/2001/04/xmlenc#";

  private SamlXml() {}

  /** Parses {@code xml} with DTDs, external entities and XInclude off; comments are kept (so they can be found). */
  public static Document parse(byte[] xml) {
    try {
      DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
      f.setNamespaceAware(true);
      f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      f.setFeature("http://xml.org/sax/features/external-general-entities", false);
      f.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
      f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
      f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
      f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
      f.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
      f.setXIncludeAware(false);
      f.setExpandEntityReferences(false);
      f.setIgnoringComments(false);
      DocumentBuilder builder = f.newDocumentBuilder();
      builder.setErrorHandler(new ErrorHandler() {
        @Override
        public void warning(SAXParseException e) {}

        @Override
        public void error(SAXParseException e) throws SAXException {
          throw e;
        }

        @Override
        public void fatalError(SAXParseException e) throws SAXException {
          throw e;
        }
      });
      return builder.parse(new ByteArrayInputStream(xml));
    } catch (SAXException | IOException e) {
      throw new SamlException(Reason.MALFORMED, "the message is not well-formed XML (or has a DOCTYPE)");
    } catch (ParserConfigurationException e) {
      throw new IllegalStateException("the JDK's XML parser cannot be hardened", e);
    }
  }

  /** Every element named {namespace}local anywhere under (and including) {@code root}. */
  public static List<Element> descendants(Node root, String namespace, String local) {
    List<Element> out = new ArrayList<>();
    if (root instanceof Element && matches(root, namespace, local)) {
      out.add((Element) root);
    }
    NodeList list = root instanceof Document ? ((Document) root).getElementsByTagNameNS(namespace, local)
        : ((Element) root).getElementsByTagNameNS(namespace, local);
    for (int i = 0; i < list.getLength(); i++) {
      out.add((Element) list.item(i));
    }
    return out;
  }

  /** The child elements of {@code parent} named {namespace}local. */
  public static List<Element> children(Element parent, String namespace, String local) {
    List<Element> out = new ArrayList<>();
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element && matches(n, namespace, local)) {
        out.add((Element) n);
      }
    }
    return out;
  }

  /** The only child named {namespace}local, null when absent; more than one is {@link Reason#MALFORMED}. */
  public static @Nullable Element optionalChild(Element parent, String namespace, String local) {
    List<Element> found = children(parent, namespace, local);
    if (found.size() > 1) {
      throw new SamlException(Reason.MALFORMED, "more than one " + local + " in " + parent.getLocalName());
    }
    return found.isEmpty() ? null : found.get(0);
  }

  /** The only child named {namespace}local; absent or repeated is {@link Reason#MALFORMED}. */
  public static Element child(Element parent, String namespace, String local) {
    Element e = optionalChild(parent, namespace, local);
    if (e == null) {
      throw new SamlException(Reason.MALFORMED, parent.getLocalName() + " has no " + local);
    }
    return e;
  }

  /** Whether {@code n} is the element {namespace}local. */
  public static boolean matches(Node n, String namespace, String local) {
    return namespace.equals(n.getNamespaceURI()) && local.equals(n.getLocalName());
  }

  /** The unqualified attribute, null when absent. */
  public static @Nullable String attribute(Element e, String name) {
    return e.hasAttributeNS(null, name) ? e.getAttributeNS(null, name) : null;
  }

  /**
   * The text of an element that may contain nothing but text: a comment, a processing instruction or a child
   * element inside (the comment-injection trick that truncates a NameID for parsers reading the first text node) is
   * {@link Reason#MALFORMED}.
   */
  public static String plainText(Element e, String what) {
    StringBuilder text = new StringBuilder();
    for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n.getNodeType() == Node.TEXT_NODE || n.getNodeType() == Node.CDATA_SECTION_NODE) {
        text.append(n.getNodeValue());
      } else {
        throw new SamlException(Reason.MALFORMED, what + " contains markup other than text (a comment or element)");
      }
    }
    return text.toString();
  }

  /** An xs:dateTime with a zone, as an instant. */
  public static Instant instant(String value, String what) {
    try {
      return OffsetDateTime.parse(value).toInstant();
    } catch (DateTimeException e) {
      throw new SamlException(Reason.MALFORMED, what + " is not a dateTime with a time zone");
    }
  }

  /**
   * Every {@code ID} attribute value in the document, each typed as an XML ID; a value used twice is {@link
   * Reason#SIGNATURE_WRAPPING}.
   */
  public static Set<String> uniqueIds(Document doc) {
    Set<String> ids = new HashSet<>();
    collectIds(doc.getDocumentElement(), ids);
    return ids;
  }

  private static void collectIds(Element e, Set<String> ids) {
    NamedNodeMap attrs = e.getAttributes();
    for (int i = 0; i < attrs.getLength(); i++) {
      Node a = attrs.item(i);
      String name = a.getLocalName() == null ? a.getNodeName() : a.getLocalName();
      if (name.equalsIgnoreCase("ID") && !ids.add(a.getNodeValue())) {
        throw new SamlException(Reason.SIGNATURE_WRAPPING, "two elements share one ID");
      }
    }
    if (e.hasAttributeNS(null, "ID")) {
      // typed as an XML ID, so the signature library resolves "#id" references to this (unique) element
      e.setIdAttributeNS(null, "ID", true);
    }
    for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element) {
        collectIds((Element) n, ids);
      }
    }
  }

  /** Escapes text for an XML attribute value or element content. */
  public static String escape(String s) {
    StringBuilder out = new StringBuilder(s.length() + 16);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&apos;");
        default -> out.append(c);
      }
    }
    return out.toString();
  }
}
