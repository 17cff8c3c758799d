package dev.saaskit.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Checks a module's public API for the rule every saaskit module keeps: third-party types stay inside, so the public
 * API names only JDK types ({@code java.*}, {@code javax.sql.*}) and saaskit's own ({@code dev.saaskit.*}), apart
 * from documented exceptions. Used by the modules' public-API tests; stateless.
 *
 * <pre>{@code
 * List<String> leaks = PublicApi.thirdPartyNames(PublicApi.typesOf(SaasJobs.class),
 *     (owner, member, type) -> owner == SaasJobs.Builder.class && type.equals(MeterRegistry.class.getName()));
 * assertThat(leaks).isEmpty();
 * }</pre>
 */
public final class PublicApi {

  /** A documented exception to the rule: this member of {@code owner} may name {@code typeName}. */
  @FunctionalInterface
  public interface Exemption {
    /** No exception at all. */
    Exemption NONE = (owner, member, typeName) -> false;

    /**
     * Whether the member may name the type.
     *
     * @param owner the public type declaring the member
     * @param member the method, constructor or field
     * @param typeName the whole generic type as {@link Type#getTypeName()} spells it, for example
     *     {@code java.util.function.Consumer<com.zaxxer.hikari.HikariConfig>}
     */
    boolean allows(Class<?> owner, Member member, String typeName);
  }

  private PublicApi() {}

  /**
   * The public types of {@code anchor}'s package, read from the class directory {@code anchor} was loaded from:
   * top-level public types and the public types nested in them; other packages (such as {@code .internal}) are not
   * included.
   *
   * @throws IllegalStateException if {@code anchor} was not loaded from a directory (a jar), or a type cannot load
   */
  public static List<Class<?>> typesOf(Class<?> anchor) {
    String pkg = anchor.getPackageName();
    Path dir;
    try {
      dir = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI())
          .resolve(pkg.replace('.', '/'));
    } catch (URISyntaxException | RuntimeException e) {
      throw new IllegalStateException("cannot find where " + anchor.getName() + " was loaded from", e);
    }
    if (!Files.isDirectory(dir)) {
      throw new IllegalStateException(anchor.getName() + " was not loaded from a class directory: " + dir);
    }
    List<Class<?>> types = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : files.filter(p -> p.toString().endsWith(".class")).sorted().toList()) {
        String simple = file.getFileName().toString().replace(".class", "");
        Class<?> c = Class.forName(pkg + "." + simple, false, anchor.getClassLoader());
        if (Modifier.isPublic(c.getModifiers()) && !c.isAnonymousClass() && !c.isSynthetic()
            && (c.getEnclosingClass() == null || Modifier.isPublic(c.getEnclosingClass().getModifiers()))) {
          types.add(c);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(e);
    }
    return types;
  }

  /**
   * Every third-party type the public methods, constructors and fields of {@code types} name (in return, parameter
   * and field types, generic arguments included), except what {@code exemption} allows; one line per finding:
   * {@code "owner: member names type"}. Empty when the rule holds.
   */
  public static List<String> thirdPartyNames(List<Class<?>> types, Exemption exemption) {
    Objects.requireNonNull(exemption, "exemption");
    List<String> leaks = new ArrayList<>();
    for (Class<?> type : types) {
      for (Method m : type.getDeclaredMethods()) {
        if (Modifier.isPublic(m.getModifiers()) && !m.isSynthetic()) {
          leaks.addAll(thirdPartyNames(type, m, m.getGenericReturnType(), exemption));
          parameters(type, m, exemption, leaks);
        }
      }
      for (Constructor<?> c : type.getDeclaredConstructors()) {
        if (Modifier.isPublic(c.getModifiers())) {
          parameters(type, c, exemption, leaks);
        }
      }
      for (Field f : type.getDeclaredFields()) {
        if (Modifier.isPublic(f.getModifiers())) {
          leaks.addAll(thirdPartyNames(type, f, f.getGenericType(), exemption));
        }
      }
    }
    return leaks;
  }

  /**
   * The third-party types one {@code type} of a member names, except what {@code exemption} allows (the check of
   * {@link #thirdPartyNames(List, Exemption)} for one type, so that a test can show the check sees a leak).
   */
  public static List<String> thirdPartyNames(Class<?> owner, Member member, Type type, Exemption exemption) {
    String name = type.getTypeName();
    if (exemption.allows(owner, member, name)) {
      return List.of();
    }
    List<String> leaks = new ArrayList<>();
    for (String part : name.split("[<>,\\s\\[\\]?]+", -1)) {
      if (part.isEmpty() || part.equals("extends") || part.equals("super") || !part.contains(".")) {
        continue;
      }
      if (!part.startsWith("java.") && !part.startsWith("javax.sql.") && !part.startsWith("dev.saaskit.")) {
        leaks.add(owner.getName() + ": " + member + " names " + part);
      }
    }
    return leaks;
  }

  private static void parameters(Class<?> owner, Executable e, Exemption exemption, List<String> leaks) {
    for (Type p : e.getGenericParameterTypes()) {
      leaks.addAll(thirdPartyNames(owner, e, p, exemption));
    }
  }
}
