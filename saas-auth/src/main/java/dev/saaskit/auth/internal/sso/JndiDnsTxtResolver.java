package dev.saaskit.auth.internal.sso;

import dev.saaskit.auth.sso.DnsTxtResolver;
import dev.saaskit.core.SaasException;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import javax.naming.NameNotFoundException;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.directory.Attributes;
import javax.naming.directory.DirContext;
import javax.naming.directory.InitialDirContext;

/** TXT lookups through the JDK's JNDI DNS provider. Not API. */
public final class JndiDnsTxtResolver implements DnsTxtResolver {
  // JNDI with the factory fixed to the DNS provider and a dns: name: no object lookup, nothing deserialized;
  // InitialDirContext takes a Hashtable
  @Override
  @SuppressWarnings({"BanJNDI", "JdkObsolete"})
  public List<String> txtRecords(String name) {
    Hashtable<String, String> env = new Hashtable<>();
    env.put("java.naming.factory.initial", "com.sun.jndi.dns.DnsContextFactory");
    env.put("com.sun.jndi.dns.timeout.initial", "2000");
    env.put("com.sun.jndi.dns.timeout.retries", "2");
    DirContext ctx = null;
    try {
      ctx = new InitialDirContext(env);
      Attributes attributes = ctx.getAttributes("dns:/" + name, new String[] {"TXT"});
      Attribute txt = attributes.get("TXT");
      List<String> out = new ArrayList<>();
      if (txt != null) {
        NamingEnumeration<?> values = txt.getAll();
        while (values.hasMore()) {
          out.add(unquote(String.valueOf(values.next())));
        }
      }
      return out;
    } catch (NameNotFoundException e) {
      return List.of();
    } catch (NamingException e) {
      throw new SaasException("DNS TXT lookup of " + name + " failed: " + e.getMessage(), e);
    } finally {
      if (ctx != null) {
        try {
          ctx.close();
        } catch (NamingException ignored) {
          // nothing to do
        }
      }
    }
  }

  // JNDI returns a record's character-strings as "a" "b" (quoted when they contain spaces) or a b
  private static String unquote(String value) {
    String v = value.strip();
    if (!v.contains("\"")) {
      return v;
    }
    StringBuilder out = new StringBuilder();
    boolean inQuotes = false;
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '"') {
        inQuotes = !inQuotes;
      } else if (c == '\\' && inQuotes && i + 1 < v.length()) {
        out.append(v.charAt(++i));
      } else if (inQuotes || c != ' ') {
        out.append(c);
      }
    }
    return out.toString();
  }
}
