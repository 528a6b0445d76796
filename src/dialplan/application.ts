import type { Channel } from '../channel/channel.ts';
import { fail, ok, type Result } from '../lib/errors.ts';

/**
 * A dialplan application, FreeSWITCH-style: what a route action or an ESL `sendmsg execute` runs
 * on a channel. One object holds all of it (name, the check of its data, the run), so adding an
 * application is adding one entry to a list. `C` is what its run needs from the service.
 */
export interface Application<C> {
  /** The name, as written in a route (`set: A=B`) or sent in `execute-app-name`. */
  readonly name: string;
  /** True when the application cannot run without data (a route action without it is refused at load). */
  readonly needsData?: boolean;
  /** Checks the data of a route action when the config is loaded (the text before ${variable} expansion). */
  check?(data: string): Result<void>;
  /**
   * Runs on a channel with the data already expanded; resolves with its Application-Response
   * (`+OK`, `FILE PLAYED`...), or an error the dialplan reports as `-ERR <message>`.
   */
  run(channel: Channel, data: string, ctx: C): Result<string> | Promise<Result<string>>;
}

/** The applications a service runs, by name. */
export class ApplicationRegistry<C> {
  private readonly apps = new Map<string, Application<C>>();

  constructor(apps: Iterable<Application<C>> = []) {
    for (const app of apps) this.add(app);
  }

  /** Adds an application; a name may be taken once. */
  add(app: Application<C>): void {
    if (this.apps.has(app.name)) throw new RangeError(`application ${app.name} is already registered`);
    this.apps.set(app.name, app);
  }

  /** The application with this name. */
  get(name: string): Application<C> | undefined {
    return this.apps.get(name);
  }

  /** Names, in registration order. */
  names(): string[] {
    return [...this.apps.keys()];
  }

  /** Whether a route action may run: the application exists and accepts the data. */
  check(name: string, data: string): Result<void> {
    const app = this.apps.get(name);
    if (!app) return fail('UNKNOWN_APPLICATION', `unknown application ${JSON.stringify(name)} (expected one of ${this.names().join(', ')})`);
    if (app.needsData && !data) return fail('INVALID_ARGUMENT', `${name} needs an argument`);
    return app.check ? app.check(data) : ok(undefined);
  }
}
