package dev.saaskit.testing;

import dev.saaskit.testing.internal.SelfSignedCertificates;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import javax.xml.XMLConstants;
import javax.xml.crypto.dsig.CanonicalizationMethod;
import javax.xml.crypto.dsig.DigestMethod;
import javax.xml.crypto.dsig.Reference;
import javax.xml.crypto.dsig.SignatureMethod;
import javax.xml.crypto.dsig.SignedInfo;
import javax.xml.crypto.dsig.Transform;
import javax.xml.crypto.dsig.XMLSignatureFactory;
import javax.xml.crypto.dsig.dom.DOMSignContext;
import javax.xml.crypto.dsig.keyinfo.KeyInfo;
import javax.xml.crypto.dsig.keyinfo.KeyInfoFactory;
import javax.xml.crypto.dsig.spec.C14NMethodParameterSpec;
import javax.xml.crypto.dsig.spec.TransformParameterSpec;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerException;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.jspecify.annotations.Nullable;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.Text;

/**
 * A SAML 2.0 identity provider for tests: it holds a fresh RSA key with a self-signed certificate and writes signed
 * SAML Responses (signed with the JDK's XML Digital Signature API, so it shares no code with the service provider
 * under test) for a given AuthnRequest, with knobs for the classic attacks. No HTTP server: SAML's browser bindings
 * are redirects and form posts, so a test reads the SP's redirect URL with {@link #readRedirect(String)} and hands
 * the Base64 response from {@link ResponseBuilder#build()} to the SP as its ACS endpoint would receive it.
 *
 * <pre>{@code
 * FakeSamlIdp idp = FakeSamlIdp.create("https://idp.test");
 * FakeSamlIdp.AuthnRequestInfo request = idp.readRedirect(sp.begin("/home"));
 * String samlResponse = idp.respondTo(request).nameId("u-1").attribute("email", "ann@acme.test").build();
 * }</pre>
 *
 * <p>Thread-safe; builders are not.
 */
public final class FakeSamlIdp {
  /** The SAML 2.0 protocol namespace. */
  public static final String PROTOCOL_NS = "urn:oasis:names:tc:SAML:2.0:protocol";
  /** The SAML 2.0 assertion namespace. */
  public static final String ASSERTION_NS = "urn:oasis:names:tc:SAML:2.0:assertion";

  private static final String DSIG_NS = "http://www.w3.org/2000/09/xmldsig#";

  private final String entityId;
  private final String ssoUrl;
  private final KeyPair keys;
  private final X509Certificate certificate;
  private final SecureRandom random;
  private final Clock clock;

  private FakeSamlIdp(String entityId, String ssoUrl, Clock clock, SecureRandom random) {
    this.entityId = entityId;
    this.ssoUrl = ssoUrl;
    this.clock = clock;
    this.random = random;
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(2048, random);
      this.keys = generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot make an RSA key", e);
    }
    this.certificate = SelfSignedCertificates.create(keys, "fake-saml-idp", random);
  }

  /** An IdP named {@code entityId}, with SSO URL {@code entityId + "/sso"}, the system clock and a new key. */
  public static FakeSamlIdp create(String entityId) {
    return create(entityId, Clock.systemUTC());
  }

  /** Like {@link #create(String)}, timestamps taken from {@code clock}. */
  public static FakeSamlIdp create(String entityId, Clock clock) {
    Objects.requireNonNull(entityId, "entityId");
    return new FakeSamlIdp(entityId, entityId + "/sso", Objects.requireNonNull(clock, "clock"), new SecureRandom());
  }

  /** The IdP's entity id, the Issuer of what it writes. */
  public String entityId() {
    return entityId;
  }

  /** The SSO URL to configure at the SP (no server listens there; see {@link #readRedirect(String)}). */
  public String ssoUrl() {
    return ssoUrl;
  }

  /** The signing certificate. */
  public X509Certificate certificate() {
    return certificate;
  }

  /** The signing certificate as PEM, as an admin would paste it into the SP's configuration. */
  public String certificatePem() {
    try {
      return "-----BEGIN CERTIFICATE-----\n"
          + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(certificate.getEncoded())
          + "\n-----END CERTIFICATE-----\n";
    } catch (CertificateEncodingException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Reads an HTTP-Redirect binding URL the SP sent the browser to: inflates the AuthnRequest and returns what a
   * response needs. Fails if the URL does not carry a {@code SAMLRequest}.
   */
  public AuthnRequestInfo readRedirect(String redirectUrl) {
    URI uri = URI.create(redirectUrl);
    Map<String, String> query = new LinkedHashMap<>();
    String raw = uri.getRawQuery();
    if (raw != null) {
      for (String pair : raw.split("&", -1)) {
        int eq = pair.indexOf('=');
        if (eq > 0) {
          query.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
              URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
      }
    }
    String request = query.get("SAMLRequest");
    if (request == null) {
      throw new IllegalArgumentException("no SAMLRequest in the redirect URL");
    }
    Document doc = parse(inflate(Base64.getDecoder().decode(request)));
    Element root = doc.getDocumentElement();
    if (!"AuthnRequest".equals(root.getLocalName()) || !PROTOCOL_NS.equals(root.getNamespaceURI())) {
      throw new IllegalArgumentException("not an AuthnRequest: " + root.getLocalName());
    }
    String issuer = "";
    for (Node n = root.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && "Issuer".equals(e.getLocalName())) {
        issuer = e.getTextContent().strip();
      }
    }
    return new AuthnRequestInfo(root.getAttribute("ID"), root.getAttribute("AssertionConsumerServiceURL"), issuer,
        query.get("RelayState"), query.containsKey("Signature"), uri.getScheme() + "://" + uri.getRawAuthority()
        + uri.getRawPath());
  }

  /** A response to {@code request}: InResponseTo, Destination, Recipient and Audience taken from it. */
  public ResponseBuilder respondTo(AuthnRequestInfo request) {
    return new ResponseBuilder(request.id(), request.assertionConsumerServiceUrl(), request.spEntityId());
  }

  /** A response built from scratch (an IdP-initiated one when {@code inResponseTo} is null). */
  public ResponseBuilder response(@Nullable String inResponseTo, String acsUrl, String audience) {
    return new ResponseBuilder(inResponseTo, acsUrl, audience);
  }

  /**
   * What an AuthnRequest asked for.
   *
   * @param id the request's ID, which the response must name in InResponseTo
   * @param assertionConsumerServiceUrl where the SP wants the response
   * @param spEntityId the request's Issuer
   * @param relayState the RelayState parameter of the redirect, if any
   * @param signed whether the redirect carried a Signature parameter
   * @param destination the URL the redirect pointed at, without its query
   */
  public record AuthnRequestInfo(String id, String assertionConsumerServiceUrl, String spEntityId,
      @Nullable String relayState, boolean signed, String destination) {}

  /** Which element(s) the IdP signs. */
  public enum Signing {
    /** The Assertion only (the common case). */
    ASSERTION,
    /** The Response only: the assertion inside carries no signature of its own. */
    RESPONSE,
    /** The Assertion, then the Response around it. */
    BOTH,
    /** Nothing: an unsigned response. */
    NONE
  }

  /** Where a signature-wrapping attack puts its second, unsigned assertion (with another NameID). */
  public enum Wrapping {
    /** Before the signed assertion, as the Response's first assertion. */
    BEFORE,
    /** After the signed assertion. */
    AFTER,
    /** Inside the signed assertion's ds:Signature (in a ds:Object, which the signature does not cover). */
    INSIDE_SIGNATURE,
    /** In the signed assertion's place, with the signed assertion moved inside it (in saml:Advice). */
    ORIGINAL_INSIDE_EVIL,
    /** Before the signed assertion, with the same ID as the signed assertion. */
    SAME_ID_BEFORE
  }

  /** Writes one SAML Response. Not thread-safe. */
  public final class ResponseBuilder {
    private @Nullable String inResponseTo;
    private String destination;
    private String recipient;
    private String audience;
    private String issuer = entityId;
    private String nameId = "user-1";
    private final Map<String, List<String>> attributes = new LinkedHashMap<>();
    private Duration lifetime = Duration.ofMinutes(5);
    private Duration shift = Duration.ZERO;
    private Signing signing = Signing.ASSERTION;
    private @Nullable FakeSamlIdp signer;
    private @Nullable Wrapping wrapping;
    private String evilNameId = "admin@victim.test";
    private int commentAt = -1;
    private String statusCode = "urn:oasis:names:tc:SAML:2.0:status:Success";
    private @Nullable String assertionId;

    private ResponseBuilder(@Nullable String inResponseTo, String acsUrl, String audience) {
      this.inResponseTo = inResponseTo;
      this.destination = acsUrl;
      this.recipient = acsUrl;
      this.audience = audience;
    }

    /** The subject's NameID (default {@code user-1}). */
    public ResponseBuilder nameId(String value) {
      this.nameId = Objects.requireNonNull(value, "value");
      return this;
    }

    /** Adds an attribute value. */
    public ResponseBuilder attribute(String name, String value) {
      attributes.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
      return this;
    }

    /** InResponseTo on the Response and the SubjectConfirmationData; null leaves it out (unsolicited). */
    public ResponseBuilder inResponseTo(@Nullable String requestId) {
      this.inResponseTo = requestId;
      return this;
    }

    /** The Response's Destination (default: the request's ACS URL). */
    public ResponseBuilder destination(String url) {
      this.destination = Objects.requireNonNull(url, "url");
      return this;
    }

    /** The SubjectConfirmationData's Recipient (default: the request's ACS URL). */
    public ResponseBuilder recipient(String url) {
      this.recipient = Objects.requireNonNull(url, "url");
      return this;
    }

    /** The Audience (default: the request's Issuer, the SP entity id). */
    public ResponseBuilder audience(String value) {
      this.audience = Objects.requireNonNull(value, "value");
      return this;
    }

    /** The Issuer of the Response and Assertion (default: this IdP's entity id). */
    public ResponseBuilder issuer(String value) {
      this.issuer = Objects.requireNonNull(value, "value");
      return this;
    }

    /** How long the assertion is valid from its issue instant (default 5 minutes). */
    public ResponseBuilder lifetime(Duration value) {
      this.lifetime = Objects.requireNonNull(value, "value");
      return this;
    }

    /** Moves every timestamp by {@code amount} from the IdP's clock: negative for an old (expired) response. */
    public ResponseBuilder shiftTime(Duration amount) {
      this.shift = Objects.requireNonNull(amount, "amount");
      return this;
    }

    /** Every timestamp an hour in the past: the assertion and its confirmation expired long ago. */
    public ResponseBuilder expired() {
      return shiftTime(Duration.ofHours(-1));
    }

    /** Which elements are signed (default {@link Signing#ASSERTION}). */
    public ResponseBuilder signing(Signing value) {
      this.signing = Objects.requireNonNull(value, "value");
      return this;
    }

    /** Signs with {@code other}'s key (and puts other's certificate in KeyInfo): a forged response. */
    public ResponseBuilder signedBy(FakeSamlIdp other) {
      this.signer = Objects.requireNonNull(other, "other");
      return this;
    }

    /** Adds a second, unsigned assertion for {@code otherNameId} at {@code where}, after signing. */
    public ResponseBuilder wrap(Wrapping where, String otherNameId) {
      this.wrapping = Objects.requireNonNull(where, "where");
      this.evilNameId = Objects.requireNonNull(otherNameId, "otherNameId");
      return this;
    }

    /**
     * After signing, splits the NameID's text at {@code index} with an empty comment ({@code <!---->}): the signature
     * stays valid (canonicalization drops comments), and a reader that takes the first text node only sees the part
     * before it.
     */
    public ResponseBuilder commentInNameId(int index) {
      this.commentAt = index;
      return this;
    }

    /** The top-level status code (default Success). */
    public ResponseBuilder statusCode(String value) {
      this.statusCode = Objects.requireNonNull(value, "value");
      return this;
    }

    /** A fixed assertion ID instead of a random one. */
    public ResponseBuilder assertionId(String value) {
      this.assertionId = Objects.requireNonNull(value, "value");
      return this;
    }

    /** The Response as XML text. */
    public String xml() {
      Instant now = clock.instant().plus(shift).truncatedTo(ChronoUnit.SECONDS);
      Document doc = newDocument();
      Element response = doc.createElementNS(PROTOCOL_NS, "samlp:Response");
      doc.appendChild(response);
      // both prefixes declared as attributes: the JDK's canonicalizer signs only declared namespaces, and the
      // serializer would add a missing one afterwards, breaking the Response signature's digest
      response.setAttributeNS(XMLConstants.XMLNS_ATTRIBUTE_NS_URI, "xmlns:samlp", PROTOCOL_NS);
      response.setAttributeNS(XMLConstants.XMLNS_ATTRIBUTE_NS_URI, "xmlns:saml", ASSERTION_NS);
      response.setAttribute("ID", newId());
      response.setAttribute("Version", "2.0");
      response.setAttribute("IssueInstant", now.toString());
      response.setAttribute("Destination", destination);
      if (inResponseTo != null) {
        response.setAttribute("InResponseTo", inResponseTo);
      }
      Element responseIssuer = child(response, ASSERTION_NS, "saml:Issuer");
      responseIssuer.setTextContent(issuer);
      Element status = child(response, PROTOCOL_NS, "samlp:Status");
      child(status, PROTOCOL_NS, "samlp:StatusCode").setAttribute("Value", statusCode);
      String id = assertionId != null ? assertionId : newId();
      Element assertion = assertion(doc, id, nameId, now);
      response.appendChild(assertion);

      FakeSamlIdp by = signer != null ? signer : FakeSamlIdp.this;
      if (signing == Signing.ASSERTION || signing == Signing.BOTH) {
        by.sign(assertion);
      }
      if (signing == Signing.RESPONSE || signing == Signing.BOTH) {
        by.sign(response);
      }
      if (wrapping != null) {
        String evilId = wrapping == Wrapping.SAME_ID_BEFORE ? id : newId();
        Element evil = assertion(doc, evilId, evilNameId, now);
        switch (wrapping) {
          case BEFORE, SAME_ID_BEFORE -> response.insertBefore(evil, assertion);
          case AFTER -> response.appendChild(evil);
          case INSIDE_SIGNATURE -> {
            Element signature = firstChild(assertion, DSIG_NS, "Signature");
            if (signature == null) {
              throw new IllegalStateException("INSIDE_SIGNATURE needs a signed assertion");
            }
            child(signature, DSIG_NS, "ds:Object").appendChild(evil);
          }
          case ORIGINAL_INSIDE_EVIL -> {
            response.replaceChild(evil, assertion);
            Element advice = doc.createElementNS(ASSERTION_NS, "saml:Advice");
            advice.appendChild(assertion);
            Element conditions = firstChild(evil, ASSERTION_NS, "Conditions");
            evil.insertBefore(advice, conditions == null ? null : conditions.getNextSibling());
          }
        }
      }
      if (commentAt >= 0) {
        Element subject = Objects.requireNonNull(firstChild(assertion, ASSERTION_NS, "Subject"));
        Element name = Objects.requireNonNull(firstChild(subject, ASSERTION_NS, "NameID"));
        Text text = (Text) name.getFirstChild();
        Text rest = text.splitText(commentAt);
        name.insertBefore(doc.createComment(""), rest);
      }
      return serialize(doc);
    }

    /** The Response, Base64-encoded, as the HTTP-POST binding delivers it in {@code SAMLResponse}. */
    public String build() {
      return Base64.getEncoder().encodeToString(xml().getBytes(StandardCharsets.UTF_8));
    }

    private Element assertion(Document doc, String id, String subjectName, Instant now) {
      Element assertion = doc.createElementNS(ASSERTION_NS, "saml:Assertion");
      assertion.setAttribute("ID", id);
      assertion.setAttribute("Version", "2.0");
      assertion.setAttribute("IssueInstant", now.toString());
      child(assertion, ASSERTION_NS, "saml:Issuer").setTextContent(issuer);
      Element subject = child(assertion, ASSERTION_NS, "saml:Subject");
      Element name = child(subject, ASSERTION_NS, "saml:NameID");
      name.setAttribute("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent");
      name.setTextContent(subjectName);
      Element confirmation = child(subject, ASSERTION_NS, "saml:SubjectConfirmation");
      confirmation.setAttribute("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer");
      Element data = child(confirmation, ASSERTION_NS, "saml:SubjectConfirmationData");
      data.setAttribute("NotOnOrAfter", now.plus(lifetime).toString());
      data.setAttribute("Recipient", recipient);
      if (inResponseTo != null) {
        data.setAttribute("InResponseTo", inResponseTo);
      }
      Element conditions = child(assertion, ASSERTION_NS, "saml:Conditions");
      conditions.setAttribute("NotBefore", now.minusSeconds(30).toString());
      conditions.setAttribute("NotOnOrAfter", now.plus(lifetime).toString());
      Element restriction = child(conditions, ASSERTION_NS, "saml:AudienceRestriction");
      child(restriction, ASSERTION_NS, "saml:Audience").setTextContent(audience);
      Element authn = child(assertion, ASSERTION_NS, "saml:AuthnStatement");
      authn.setAttribute("AuthnInstant", now.toString());
      authn.setAttribute("SessionIndex", "_session-" + id);
      Element context = child(authn, ASSERTION_NS, "saml:AuthnContext");
      child(context, ASSERTION_NS, "saml:AuthnContextClassRef")
          .setTextContent("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport");
      if (!attributes.isEmpty()) {
        Element statement = child(assertion, ASSERTION_NS, "saml:AttributeStatement");
        for (Map.Entry<String, List<String>> e : attributes.entrySet()) {
          Element attribute = child(statement, ASSERTION_NS, "saml:Attribute");
          attribute.setAttribute("Name", e.getKey());
          for (String v : e.getValue()) {
            child(attribute, ASSERTION_NS, "saml:AttributeValue").setTextContent(v);
          }
        }
      }
      return assertion;
    }
  }

  /** Signs {@code element} enveloped, the signature placed after its Issuer, as SAML requires. */
  private void sign(Element element) {
    try {
      element.setIdAttributeNS(null, "ID", true);
      XMLSignatureFactory factory = XMLSignatureFactory.getInstance("DOM");
      Reference reference = factory.newReference("#" + element.getAttribute("ID"),
          factory.newDigestMethod(DigestMethod.SHA256, null),
          List.of(factory.newTransform(Transform.ENVELOPED, (TransformParameterSpec) null),
              factory.newTransform(CanonicalizationMethod.EXCLUSIVE, (TransformParameterSpec) null)),
          null, null);
      SignedInfo signedInfo = factory.newSignedInfo(
          factory.newCanonicalizationMethod(CanonicalizationMethod.EXCLUSIVE, (C14NMethodParameterSpec) null),
          factory.newSignatureMethod(SignatureMethod.RSA_SHA256, null), List.of(reference));
      KeyInfoFactory keyInfos = factory.getKeyInfoFactory();
      KeyInfo keyInfo = keyInfos.newKeyInfo(List.of(keyInfos.newX509Data(List.of(certificate))));
      DOMSignContext context = new DOMSignContext(keys.getPrivate(), element);
      Element issuer = firstChild(element, ASSERTION_NS, "Issuer");
      if (issuer != null) {
        context.setNextSibling(issuer.getNextSibling());
      }
      context.setDefaultNamespacePrefix("ds");
      factory.newXMLSignature(signedInfo, keyInfo).sign(context);
    } catch (GeneralSecurityException | javax.xml.crypto.MarshalException
        | javax.xml.crypto.dsig.XMLSignatureException e) {
      throw new IllegalStateException("cannot sign", e);
    }
  }

  private String newId() {
    byte[] bytes = new byte[16];
    random.nextBytes(bytes);
    return "_" + HexFormat.of().formatHex(bytes);
  }

  private static Element child(Element parent, String ns, String qualifiedName) {
    Element e = parent.getOwnerDocument().createElementNS(ns, qualifiedName);
    parent.appendChild(e);
    return e;
  }

  private static @Nullable Element firstChild(Element parent, String ns, String localName) {
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && localName.equals(e.getLocalName()) && ns.equals(e.getNamespaceURI())) {
        return e;
      }
    }
    return null;
  }

  private static DocumentBuilder builder() {
    try {
      DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
      factory.setNamespaceAware(true);
      factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      factory.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
      factory.setXIncludeAware(false);
      factory.setExpandEntityReferences(false);
      return factory.newDocumentBuilder();
    } catch (ParserConfigurationException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Document newDocument() {
    return builder().newDocument();
  }

  private static Document parse(byte[] xml) {
    try {
      return builder().parse(new java.io.ByteArrayInputStream(xml));
    } catch (org.xml.sax.SAXException | IOException e) {
      throw new IllegalArgumentException("the AuthnRequest is not well-formed XML", e);
    }
  }

  private static byte[] inflate(byte[] deflated) {
    Inflater inflater = new Inflater(true);
    inflater.setInput(deflated);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buffer = new byte[4096];
    try {
      while (!inflater.finished()) {
        int n = inflater.inflate(buffer);
        if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
          break;
        }
        out.write(buffer, 0, n);
      }
    } catch (DataFormatException e) {
      throw new IllegalArgumentException("the SAMLRequest is not DEFLATE-compressed", e);
    } finally {
      inflater.end();
    }
    return out.toByteArray();
  }

  private static String serialize(Document doc) {
    try {
      Transformer transformer = TransformerFactory.newInstance().newTransformer();
      transformer.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
      transformer.setOutputProperty(OutputKeys.INDENT, "no");
      StringWriter out = new StringWriter();
      transformer.transform(new DOMSource(doc), new StreamResult(out));
      return out.toString();
    } catch (TransformerException e) {
      throw new IllegalStateException(e);
    }
  }
}
