"""End-to-end test of the backup page in headless Chromium (run by Scripts/test-page.sh).

Drives the page as a user would: enter the token, take a snapshot, download an export with a
silo unchecked (and verify the ZIP), upload a ZIP through the file input, preview then restore
it, compare with the live files. Saves a screenshot of each screen into SHOTS.
Arguments: URL TOKEN WORKDIR SHOTS
"""
import os
import sys
import time
import zipfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

URL, TOKEN, WORK, SHOTS = sys.argv[1:5]
DOWNLOADS = os.path.join(WORK, "downloads")
os.makedirs(DOWNLOADS, exist_ok=True)
os.makedirs(SHOTS, exist_ok=True)

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900", "--disable-gpu"]:
    opts.add_argument(a)
opts.add_experimental_option("prefs", {"download.default_directory": DOWNLOADS, "download.prompt_for_download": False})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
wait = WebDriverWait(driver, 60)
failures = []


def el(i):
    return driver.find_element(By.ID, i)


def shot(name):
    driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def tab(name):
    driver.find_element(By.CSS_SELECTOR, f'#tabs button[data-tab="{name}"]').click()


def message(i, kind, timeout=60):
    """Waits until message box i shows `kind` (ok/error/info); returns its text."""
    WebDriverWait(driver, timeout).until(lambda d: "show" in el(i).get_attribute("class"))
    cls = el(i).get_attribute("class")
    text = el(i).text
    if kind not in cls:
        raise AssertionError(f"#{i} shows {cls}: {text}")
    return text


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


try:
    # Without the token the page says, in words, what is missing.
    driver.get(URL)
    text = message("globalmsg", "error")
    check("access token" in text, f"missing token message: {text}")
    shot("01-token-needed")
    el("token").send_keys(TOKEN)
    driver.execute_script("document.getElementById('token').dispatchEvent(new Event('change'))")
    wait.until(lambda d: "snapshots" in el("repo").text)
    check(driver.execute_script("return sessionStorage.getItem('cairn-token')") == TOKEN, "token kept in sessionStorage")
    check(driver.execute_script("return document.cookie") == "", "no cookies")

    # Snapshot now, with its progress bar.
    el("snaptag").send_keys("from-page")
    el("snapnow").click()
    text = message("snapmsg", "ok")
    check("saved" in text, f"snapshot message: {text}")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#snaplist tr")) == 1)
    check(el("snapbar").get_attribute("style").find("100") >= 0, "progress bar full")
    shot("02-snapshot-taken")
    el("filter").send_keys("from-page")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#snaplist tr")) == 1, "filter keeps the tagged snapshot")
    el("filter").clear()
    el("filter").send_keys("no-such-tag")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#snaplist tr")) == 0, "filter hides the others")
    el("filter").clear()
    el("filter").send_keys(" ")
    el("filter").clear()

    # Download with the media silo unchecked: the exact size first, then the ZIP.
    tab("export")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#expsilos input")) == 2)
    full = el("expsize").get_attribute("data-bytes")
    driver.find_element(By.CSS_SELECTOR, '#expsilos input[value="media"]').click()
    wait.until(lambda d: el("expsize").get_attribute("data-bytes") not in (None, full))
    expected = int(el("expsize").get_attribute("data-bytes"))
    check("exact" in el("expexact").text, "size is exact")
    shot("03-export-silo-checklist")
    el("expgo").click()
    message("expmsg", "ok")
    deadline = time.time() + 30
    zips = []
    while time.time() < deadline:
        zips = [f for f in os.listdir(DOWNLOADS) if f.endswith(".zip")]
        if zips:
            break
        time.sleep(0.2)
    check(len(zips) == 1, f"one ZIP downloaded: {os.listdir(DOWNLOADS)}")
    path = os.path.join(DOWNLOADS, zips[0])
    deadline = time.time() + 15  # the browser may still be moving the file into place
    while time.time() < deadline and os.path.getsize(path) != expected:
        time.sleep(0.2)
    check(os.path.getsize(path) == expected, f"download is {os.path.getsize(path)} bytes, the page said {expected}")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        check(z.testzip() is None, "ZIP CRCs verify")
        check(any(n.startswith("app/") for n in names) and not any(n.startswith("media/") for n in names), f"only app in the ZIP: {names}")
        check(z.read("app/notes.txt") == b"first version\n", "app/notes.txt content")
    check(zips[0].startswith("cairn-") and zips[0].endswith("Z.zip"), f"timestamped file name {zips[0]}")
    shot("04-export-downloaded")

    # Upload a ZIP through the file input: the inspection is shown before anything is written.
    upload = os.path.join(WORK, "from-elsewhere.zip")
    with zipfile.ZipFile(upload, "w") as z:
        z.writestr("app/notes.txt", "restored from the uploaded zip\n")
        z.writestr("app/data/blob.bin", open(os.path.join(WORK, "app/data/blob.bin"), "rb").read())
    with open(os.path.join(WORK, "app/notes.txt"), "w") as f:
        f.write("edited after the snapshot\n")
    tab("import")
    el("file").send_keys(upload)
    wait.until(lambda d: el("inspect").is_displayed())
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#inspectrows tr")]
    check(len(rows) == 1 and rows[0].startswith("app"), f"inspection lists silo app: {rows}")
    check("not made by Cairn" in el("inspecthead").text, el("inspecthead").text)
    check(el("upbar").get_attribute("style").find("100") >= 0, "upload progress full")
    shot("05-upload-inspected")
    el("impgo").click()
    text = message("impmsg", "ok")
    check("Added as snapshot" in text, text)
    shot("06-imported")

    # Restore it: preview (dry run), confirm, restore; the safety snapshot and undo are shown.
    tab("restore")
    wait.until(lambda d: len(Select(el("ressnap")).options) == 2)
    Select(el("ressnap")).select_by_index(0)  # newest: the import
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#ressilos input")) == 1)
    el("respreview").click()
    wait.until(lambda d: el("preview").is_displayed())
    changes = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#prevchanges tr")]
    check(any("app/notes.txt" in c for c in changes), f"preview lists notes.txt: {changes}")
    check(open(os.path.join(WORK, "app/notes.txt")).read() == "edited after the snapshot\n", "preview changed nothing")
    check(not el("resgo").is_enabled(), "restore needs the confirmation")
    shot("07-restore-preview")
    el("resconfirm").click()
    el("resgo").click()
    text = message("resdone", "ok")
    check("safety snapshot" in text and "undo" in text.lower(), text)
    check(open(os.path.join(WORK, "app/notes.txt")).read() == "restored from the uploaded zip\n", "restored content on disk")
    shot("08-restored")

    # Compare the first snapshot with the live files.
    tab("diff")
    wait.until(lambda d: len(Select(el("diffa")).options) >= 3)
    Select(el("diffa")).select_by_index(len(Select(el("diffa")).options) - 1)  # the oldest
    Select(el("diffb")).select_by_value("live")
    el("diffgo").click()
    wait.until(lambda d: "added" in el("diffsum").text)
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#diffrows tr")]
    check(any("app/notes.txt" in r and "changed" in r for r in rows), f"diff lists notes.txt as changed: {rows}")
    shot("09-diff")

    tab("jobs")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#joblist tr")) >= 3
               and all("succeeded" in r.text for r in d.find_elements(By.CSS_SELECTOR, "#joblist tr")))
    states = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#joblist tr")]
    check(all("succeeded" in s for s in states), f"all jobs succeeded: {states}")
    shot("10-activity")
    tab("snapshots")
    shot("11-snapshot-list")
except Exception as e:  # a failed wait or assertion: keep a screenshot of where it stopped
    shot("failure")
    failures.append(f"{type(e).__name__}: {e}")
    print("FAIL:", failures[-1])
finally:
    logs = []
    try:
        logs = [l for l in driver.get_log("browser") if l.get("level") == "SEVERE"]
    except Exception:
        pass
    driver.quit()

for l in logs:
    print("browser console:", l.get("message"))
if failures:
    print(f"page test: {len(failures)} failures")
    sys.exit(1)
print("page test: all checks passed; screenshots in", SHOTS)
