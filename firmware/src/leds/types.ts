/** The LED seam: patterns are computed above it, a driver only switches a LED on or off. */

export const LED_NAMES = ['app', 'modem', 'radius', 'fault'] as const;
export type LedName = (typeof LED_NAMES)[number];

export interface LedDriver {
  /** "gpio (onoff, pinctrl-bcm2711 base 512)", "led-class", "none": for the log and health. */
  readonly description: string;
  /** Synchronous and cheap: called only when a LED changes. Never throws (a LED is not worth a crash). */
  set(led: LedName, on: boolean): void;
  /** Switches the LEDs off and gives the pins back (GPIOs are unexported). */
  close(): Promise<void>;
}

/** The reset button, as a level: true while pressed. */
export interface ButtonSource {
  readonly description: string;
  pressed(): boolean;
  close(): Promise<void>;
}
