package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.as;
import static dev.saaskit.jobs.QueueFixtures.count;
import static dev.saaskit.jobs.QueueFixtures.update;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Unique keys hold under concurrent enqueues from many threads, also while their jobs keep finishing. */
@ExtendWith(PostgresExtension.class)
class UniqueKeyConcurrencyTest {
  private static final int THREADS = 16;
  private static TestDatabase db;
  private static com.zaxxer.hikari.HikariDataSource pool;
  private static JobQueue queue;
  private static ExecutorService threads;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    QueueFixtures.setUp(db);
    pool = db.newPool(db.appRole(), db.appPassword(), THREADS);
    queue = JobQueue.builder(pool).build();
    threads = Executors.newFixedThreadPool(THREADS + 1);
  }

  @AfterAll
  static void tearDown() {
    threads.shutdownNow();
    pool.close();
  }

  @Test
  void sixteenThreadsWithOneKeyGetOneJob() throws Exception {
    for (int round = 0; round < 10; round++) {
      String key = "report:" + round;
      boolean batch = round % 2 == 1;
      List<JobId> ids = all(THREADS, i -> as(ACME, () -> batch
          ? queue.enqueueAll(List.of(JobRequest.builder("t", i).uniqueKey(key).build(),
              JobRequest.builder("t", i).build())).get(0)
          : queue.enqueue(JobRequest.builder("t", i).uniqueKey(key).build())));
      assertThat(new HashSet<>(ids)).as("round %d", round).hasSize(1);
      assertThat(count(db, "unique_key = ?", key)).isEqualTo(1);

      // once it finished, the key is free again
      update(db, "UPDATE saaskit_jobs.jobs SET state = 'completed', finished_at = now() WHERE id = ?",
          ids.get(0).value());
      JobId next = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 0).uniqueKey(key).build()));
      assertThat(next).isNotEqualTo(ids.get(0));
      assertThat(count(db, "unique_key = ? AND state = 'pending'", key)).isEqualTo(1);
    }
  }

  @Test
  void holdersThatFinishMidEnqueueNeverYieldTwoLiveJobsOrAWrongId() throws Exception {
    String key = "churn";
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger finished = new AtomicInteger();
    Future<?> finisher = threads.submit(() -> {
      while (!stop.get()) {
        finished.addAndGet(update(db, "UPDATE saaskit_jobs.jobs SET state = 'completed', finished_at = now()"
            + " WHERE unique_key = ? AND state = 'pending'", key));
      }
    });
    Set<JobId> seen = ConcurrentHashMap.newKeySet();
    try {
      List<List<JobId>> perThread = all(8, i -> {
        List<JobId> mine = new ArrayList<>();
        for (int n = 0; n < 150; n++) {
          boolean batch = n % 3 == 0;
          JobId id = as(ACME, () -> batch
              ? queue.enqueueAll(List.of(JobRequest.builder("t", i).uniqueKey(key).build())).get(0)
              : queue.enqueue(JobRequest.builder("t", i).uniqueKey(key).build()));
          mine.add(id);
          assertThat(count(db, "unique_key = ? AND state IN ('pending', 'running')", key)).isLessThanOrEqualTo(1);
        }
        return mine;
      });
      perThread.forEach(seen::addAll);
    } finally {
      stop.set(true);
      finisher.get(30, TimeUnit.SECONDS);
    }
    assertThat(finished.get()).as("the finisher raced the enqueuers").isPositive();
    // every id handed out is a job with this key, and no key ever had two live jobs (the index forbids it)
    assertThat(count(db, "unique_key = ?", key)).isEqualTo(seen.size());
    assertThat(seen.size()).isGreaterThan(1);
  }

  interface Task<T> {
    T call(int index) throws Exception;
  }

  private static <T> List<T> all(int n, Task<T> task) throws Exception {
    CountDownLatch start = new CountDownLatch(1);
    List<Future<T>> futures = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int index = i;
      Callable<T> body = () -> {
        start.await();
        return task.call(index);
      };
      futures.add(threads.submit(body));
    }
    start.countDown();
    List<T> results = new ArrayList<>();
    for (Future<T> f : futures) {
      results.add(f.get(60, TimeUnit.SECONDS));
    }
    return results;
  }
}
