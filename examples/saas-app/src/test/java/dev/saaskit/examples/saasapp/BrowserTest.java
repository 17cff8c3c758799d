package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser: headless Chromium (Debian's {@code chromium} and {@code chromium-driver}, or
 * {@code SAASKIT_CHROMIUM} / {@code SAASKIT_CHROMEDRIVER}) driven by Selenium against the app started on a free
 * port with the embedded database. Signs in, adds projects, runs a report until its progress bar reaches 100%,
 * upgrades through the StripeEmulator's hosted checkout page and sees the plan badge change. Screenshots go to
 * {@code target/browser/}. Without Chromium it is skipped locally and fails under {@code CI=true}.
 */
class BrowserTest {
  private static final Duration WAIT = Duration.ofSeconds(90);
  private static final Path SHOTS = Paths.get("target", "browser");

  private static AppFixture f;
  private static WebDriver driver;
  private static WebDriverWait wait;

  @BeforeAll
  static void startBrowserAndApp() throws Exception {
    Path chromium = Paths.get(System.getenv().getOrDefault("SAASKIT_CHROMIUM", "/usr/bin/chromium"));
    Path chromedriver = Paths.get(System.getenv().getOrDefault("SAASKIT_CHROMEDRIVER", "/usr/bin/chromedriver"));
    if (!Files.isExecutable(chromium) || !Files.isExecutable(chromedriver)) {
      String why = "Chromium is not installed (" + chromium + ", " + chromedriver
          + "): apt-get install -y chromium chromium-driver";
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        fail(why + " (CI=true: the browser test must run)");
      }
      Assumptions.abort(why);
    }
    Files.createDirectories(SHOTS);
    // the app on a free port, its own database on the shared test PostgreSQL; reports slow enough to watch
    f = AppFixture.start(b -> b.reportSteps(5).reportStepDelay(Duration.ofMillis(300)));

    ChromeOptions options = new ChromeOptions();
    options.setBinary(chromium.toFile());
    options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--window-size=1280,1100", "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-US",
        "--no-first-run", "--no-default-browser-check", "--disable-extensions");
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(chromedriver.toFile())
        .usingAnyFreePort()
        .withLogFile(SHOTS.resolve("chromedriver.log").toFile())
        .build();
    driver = new ChromeDriver(service, options);
    wait = new WebDriverWait(driver, WAIT, Duration.ofMillis(100));
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (driver != null) {
        driver.quit();
      }
    } finally {
      if (f != null) {
        f.close();
      }
    }
  }

  @Test
  void signInAddProjectsRunAReportAndUpgradeThroughCheckout() throws Exception {
    try {
      journey();
    } catch (Throwable t) {
      shot("failure");
      throw t;
    }
  }

  private void journey() throws Exception {
    String home = f.app.publicUrl();   // the origin the checkout's success_url returns to (sessionStorage is per origin)
    String tenant = "browser-" + UUID.randomUUID().toString().substring(0, 8);
    String email = "owner@" + tenant + ".test";

    // sign in as a demo owner of a new tenant
    signIn(home, tenant, email, "owner", "1-sign-in");
    wait.until(ExpectedConditions.textToBe(By.id("plan-badge"), "Free"));
    assertThat(driver.findElement(By.id("upgrade")).isDisplayed()).isTrue();

    // add projects; a name with markup stays text
    addProject("Apollo launch");
    addProject("Gemini <beta> & co");
    List<WebElement> names = driver.findElements(By.cssSelector("#project-list .project-name"));
    assertThat(names).extracting(WebElement::getText).containsExactly("Apollo launch", "Gemini <beta> & co");
    assertThat(driver.findElements(By.cssSelector("#project-list beta"))).isEmpty();

    // run a report: the bar fills by polling the job, then the result is shown (no JSON)
    driver.findElement(By.id("report-start")).click();
    wait.until(d -> "100".equals(d.findElement(By.id("report-progress")).getDomAttribute("aria-valuenow")));
    wait.until(ExpectedConditions.textToBe(By.id("report-state"), "Done"));
    assertThat(text("report-progress-label")).isEqualTo("100%");
    assertThat(driver.findElement(By.id("report-progress-bar")).getDomAttribute("style")).contains("width: 100%");
    WebElement result = wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("report-result")));
    assertThat(result.findElement(By.tagName("h3")).getText()).isEqualToIgnoringCase("Report ready");
    assertThat(result.getText()).contains("Apollo launch").contains("Gemini <beta> & co")
        .doesNotContain("{").doesNotContain("\"projects\"");
    assertThat(result.findElement(By.cssSelector("dd[data-key='projects']")).getText()).isEqualTo("2");
    shot("2-report-done");

    // upgrade: the app's checkout sends the browser to the emulator's hosted page
    String emulatorBase = java.util.Objects.requireNonNull(f.app.stripeEmulator(), "offline Stripe").apiBase();
    driver.findElement(By.id("upgrade")).click();
    wait.until(ExpectedConditions.urlContains(emulatorBase + "/checkout/cs_"));
    WebElement pay = wait.until(ExpectedConditions.elementToBeClickable(By.id("pay")));
    String checkoutPage = driver.findElement(By.tagName("main")).getText();
    assertThat(checkoutPage).contains("saas-app Pro").contains("$29.00 / month").contains(email);
    shot("3-checkout");
    pay.click();

    // back on the dashboard: the badge follows the webhook-updated subscription
    wait.until(ExpectedConditions.urlToBe(home + "/"));
    wait.until(ExpectedConditions.textToBe(By.id("plan-badge"), "Pro"));
    assertThat(driver.findElement(By.id("plan-badge")).getDomAttribute("data-status")).isEqualTo("active");
    assertThat(text("sub-status")).isEqualTo("Active");
    assertThat(driver.findElements(By.cssSelector("#entitlements .chip"))).extracting(WebElement::getText)
        .contains("analytics", "api-keys", "reports");
    assertThat(driver.findElement(By.id("upgrade-box")).isDisplayed()).isFalse();
    wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"), "Welcome to Pro"));
    wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("report-result")));   // the last report, kept
    wait.until(d -> !text("analytics-projects").equals("–"));
    Path dashboard = shot("4-upgraded");
    Files.copy(dashboard, SHOTS.resolve("dashboard.png"), StandardCopyOption.REPLACE_EXISTING);
  }

  @Test
  void aMemberSeesNeitherDeleteNorUpgradeAndThePlanLimitIsExplained() throws Exception {
    try {
      String tenant = "browser-m-" + UUID.randomUUID().toString().substring(0, 8);
      signIn(f.app.publicUrl(), tenant, "member@" + tenant + ".test", "member", null);
      wait.until(ExpectedConditions.textToBe(By.id("plan-badge"), "Free"));
      assertThat(driver.findElement(By.id("upgrade-box")).isDisplayed()).isFalse();
      assertThat(text("billing-note")).contains("Ask an admin");
      for (String name : List.of("One", "Two", "Three")) {   // the free plan's limit
        addProject(name);
      }
      assertThat(driver.findElements(By.cssSelector("#project-list .project-delete"))).isEmpty();
      WebElement input = driver.findElement(By.id("project-name"));
      input.sendKeys("Four");
      driver.findElement(By.id("project-add")).click();
      WebElement error = wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("project-error")));
      assertThat(error.getText()).contains("3 projects").contains("Ask an admin");
      assertThat(driver.findElements(By.cssSelector("#project-list li"))).hasSize(3);
      shot("5-member-plan-limit");

      driver.findElement(By.id("signout")).click();
      wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("login-form")));
      assertThat(driver.findElement(By.id("dashboard")).isDisplayed()).isFalse();
      driver.navigate().refresh();   // the token is gone from sessionStorage: still signed out
      wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("login-form")));
    } catch (Throwable t) {
      shot("failure-member");
      throw t;
    }
  }

  /** Opens the page signed out (whatever an earlier test left) and signs in through the form. */
  private void signIn(String home, String tenant, String email, String role, @Nullable String screenshot)
      throws Exception {
    driver.get(home + "/");
    ((JavascriptExecutor) driver).executeScript("window.sessionStorage.clear();");
    driver.get(home + "/");
    WebElement tenantField = wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("login-tenant")));
    if (screenshot != null) {
      shot(screenshot);
    }
    tenantField.clear();
    tenantField.sendKeys(tenant);
    new Select(driver.findElement(By.id("login-role"))).selectByValue(role);
    WebElement emailField = driver.findElement(By.id("login-email"));
    emailField.clear();
    emailField.sendKeys(email);
    driver.findElement(By.id("login-submit")).click();
    wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("dashboard")));
    wait.until(ExpectedConditions.textToBe(By.id("who-tenant"), tenant));
    assertThat(text("who-email")).isEqualTo(email);
    assertThat(text("who-role")).isEqualToIgnoringCase(role);
  }

  private void addProject(String name) {
    int before = driver.findElements(By.cssSelector("#project-list li")).size();
    WebElement input = driver.findElement(By.id("project-name"));
    input.clear();
    input.sendKeys(name);
    driver.findElement(By.id("project-add")).click();
    wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector("#project-list li"), before + 1));
    assertThat(driver.findElement(By.id("project-error")).isDisplayed()).isFalse();
  }

  private static String text(String id) {
    return driver.findElement(By.id(id)).getText();
  }

  private static Path shot(String name) throws IOException {
    if (!(driver instanceof TakesScreenshot)) {
      return SHOTS.resolve(name + ".png");
    }
    File png = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
    Path target = SHOTS.resolve(name.toLowerCase(Locale.ROOT) + ".png");
    Files.copy(png.toPath(), target, StandardCopyOption.REPLACE_EXISTING);
    return target;
  }
}
