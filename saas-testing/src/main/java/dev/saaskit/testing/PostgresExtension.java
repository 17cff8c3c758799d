package dev.saaskit.testing;

import dev.saaskit.testing.internal.DefaultTestDatabase;
import dev.saaskit.testing.internal.SharedServer;
import java.lang.reflect.AnnotatedElement;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.TestInstancePostProcessor;

/**
 * JUnit 5 extension that gives each test class a fresh {@link TestDatabase} on the
 * {@linkplain PostgresServer#shared() shared server}, so test classes never see each other's tables or roles while
 * the suite starts PostgreSQL only once.
 *
 * <pre>{@code
 * @ExtendWith(PostgresExtension.class)
 * class InvoiceRepositoryTest {
 *   TestDatabase db;                       // injected by type, no annotation needed
 *
 *   @BeforeAll
 *   static void migrate(TestDatabase db) { ... }   // or as a parameter anywhere
 * }
 * }</pre>
 *
 * <p>The database is created before the class's first {@code @BeforeAll} method (or earlier, when a
 * {@code PER_CLASS} test instance or constructor needs it) and closed after its last {@code @AfterAll}: the
 * database and its roles are dropped. {@code @Nested} classes share the database of the enclosing class.
 *
 * <p>It supplies a {@link TestDatabase}:
 * <ul>
 *   <li>as a parameter of type {@code TestDatabase} of constructors and of {@code @BeforeAll}, {@code @BeforeEach},
 *       {@code @Test} (and other test methods), {@code @AfterEach} and {@code @AfterAll} methods;
 *   <li>in every non-{@code final} static or instance field of type {@code TestDatabase} of the test class and its
 *       superclasses (static fields before {@code @BeforeAll}, and set back to {@code null} after
 *       {@code @AfterAll}; instance fields when the instance is created).
 * </ul>
 */
public final class PostgresExtension
    implements BeforeAllCallback, AfterAllCallback, ParameterResolver, TestInstancePostProcessor {
  private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(PostgresExtension.class);
  private static final String KEY = "database";

  /** Used by JUnit ({@code @ExtendWith(PostgresExtension.class)}) or {@code @RegisterExtension}. */
  public PostgresExtension() {}

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    TestDatabase db = database(context);
    injectFields(context.getRequiredTestClass(), null, db);
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    ExtensionContext.Store store = context.getStore(NAMESPACE);
    Slot visible = store.get(KEY, Slot.class);
    TestDatabase db = visible == null ? null : visible.peek();
    if (db != null) {
      clearStaticFields(context.getRequiredTestClass(), db);
    }
    // remove() only looks at this context's own store: a @Nested class finds nothing and leaves the outer
    // database alone; the class that created it closes it.
    Slot owned = store.remove(KEY, Slot.class);
    if (owned != null) {
      owned.close();
    }
  }

  @Override
  public void postProcessTestInstance(Object testInstance, ExtensionContext context) throws Exception {
    injectFields(testInstance.getClass(), testInstance, database(context));
  }

  @Override
  public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
    return parameterContext.getParameter().getType() == TestDatabase.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
    return database(extensionContext);
  }

  /**
   * The database of the test class behind {@code context}: found in this class's or an enclosing class's store,
   * or created in the class's store.
   */
  private static TestDatabase database(ExtensionContext context) {
    ExtensionContext classContext = classContext(context);
    String createdFor = classContext.getTestClass().map(Class::getName).orElse(classContext.getUniqueId());
    // Looks in the stores of enclosing contexts too, so @Nested classes reuse the outer class's database.
    return classContext.getStore(NAMESPACE).getOrComputeIfAbsent(KEY, key -> new Slot(createdFor), Slot.class).get();
  }

  /**
   * Holds a class's database, created on first use. Storing the slot rather than the database keeps a failed
   * creation out of the store, so it is reported once, where it happened. JUnit closes a slot left in the store.
   */
  private static final class Slot implements AutoCloseable {
    private final String createdFor;
    private @Nullable TestDatabase db;

    Slot(String createdFor) {
      this.createdFor = createdFor;
    }

    synchronized TestDatabase get() {
      if (db == null) {
        db = DefaultTestDatabase.create(SharedServer.get(), createdFor);
      }
      return db;
    }

    synchronized @Nullable TestDatabase peek() {
      return db;
    }

    @Override
    public synchronized void close() {
      if (db != null) {
        db.close();
      }
    }
  }

  private static ExtensionContext classContext(ExtensionContext context) {
    ExtensionContext current = context;
    while (true) {
      Optional<AnnotatedElement> element = current.getElement();
      if (element.isPresent() && element.get() instanceof Class) {
        return current;
      }
      Optional<ExtensionContext> parent = current.getParent();
      if (parent.isEmpty()) {
        return context;
      }
      current = parent.get();
    }
  }

  private static void injectFields(Class<?> type, @Nullable Object instance, TestDatabase db)
      throws IllegalAccessException {
    for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
      for (Field field : c.getDeclaredFields()) {
        int modifiers = field.getModifiers();
        boolean isStatic = Modifier.isStatic(modifiers);
        if (field.getType() != TestDatabase.class || Modifier.isFinal(modifiers) || (instance == null) != isStatic) {
          continue;
        }
        try {
          field.setAccessible(true);
        } catch (RuntimeException e) {
          throw new ExtensionConfigurationException("PostgresExtension cannot inject field " + c.getName() + "."
              + field.getName() + ": " + e.getMessage() + ". Make it accessible or take TestDatabase as a parameter.",
              e);
        }
        field.set(isStatic ? null : instance, db);
      }
    }
  }

  /** So a static field never keeps a closed database once its class is done. */
  private static void clearStaticFields(Class<?> type, TestDatabase db) throws IllegalAccessException {
    for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
      for (Field field : c.getDeclaredFields()) {
        int modifiers = field.getModifiers();
        if (field.getType() == TestDatabase.class && Modifier.isStatic(modifiers) && !Modifier.isFinal(modifiers)
            && field.trySetAccessible() && field.get(null) == db) {
          field.set(null, null);
        }
      }
    }
  }
}
