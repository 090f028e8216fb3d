# shellcheck shell=bash
# The headless browser the wallboard test drives: Debian's chromium and chromium-driver, installed
# with apt when missing (like PostgreSQL in postgres.sh). Source this file; it never exits the caller.

browser_log() { printf '[browser] %s\n' "$*" >&2; }

# Installs /usr/bin/chromium and /usr/bin/chromedriver when either is missing.
browser_install() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    browser_log "chromium or chromedriver is missing and we are not root: run 'sudo apt-get install -y chromium chromium-driver' once."
    return 1
  fi
  browser_log "chromium is not installed: installing chromium and chromium-driver with apt-get (once)."
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    apt-get install -y -q chromium chromium-driver >/dev/null
  fi
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || { browser_log "apt-get ran but /usr/bin/chromium or /usr/bin/chromedriver is still missing"; return 1; }
}
