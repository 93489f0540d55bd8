/** Debian's Chromium driven by playwright-core: the real browser for every web test. */
import { chromium, type Browser } from 'playwright-core';

/** Playwright gives each launch a fresh, empty profile. */
export async function launchChromium(): Promise<Browser> {
  // Without the background-networking flags Chromium keeps dialling Google on this closed network.
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
