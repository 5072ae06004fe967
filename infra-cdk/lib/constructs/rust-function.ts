// A Rust Lambda: its own bootstrap (functions/lambda/src/bin/<entry>.rs, built by `cargo lambda build
// --profile lambda-release --arm64` into <repo>/target/lambda/<entry>/bootstrap), on provided.al2023 / arm64
// with JSON logs kept a month.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PLACEHOLDER_ASSET = path.resolve(here, '../../placeholder-asset');
export const DEFAULT_ASSET_ROOT = path.resolve(here, '../../../target/lambda');

export interface RustFunctionProps {
  /** The bootstrap, as functions/lambda/src/bin/ names it (`api-health` → `target/lambda/api-health/bootstrap`). */
  readonly entry: string;
  readonly description: string;
  readonly assetRoot: string;
  readonly environment: Record<string, string>;
  readonly memorySize?: number;
  readonly timeout?: Duration;
  readonly reservedConcurrentExecutions?: number;
}

/**
 * Why `bootstrap` cannot run on provided.al2023 / arm64, or `undefined` when it can: it must exist and be
 * a 64-bit little-endian ELF for aarch64 (e_machine 0xB7). An x86_64 build or a script would deploy and
 * then fail every invocation.
 */
export function bootstrapProblem(bootstrap: string): string | undefined {
  let header: Buffer;
  try {
    const fd = fs.openSync(bootstrap, 'r');
    try {
      header = Buffer.alloc(20);
      header = header.subarray(0, fs.readSync(fd, header, 0, 20, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return `${bootstrap} is missing`;
  }
  if (header.length < 20 || header.readUInt32BE(0) !== 0x7f454c46) return `${bootstrap} is not an ELF executable`;
  if (header[4] !== 2 || header[5] !== 1) return `${bootstrap} is not a 64-bit little-endian ELF`;
  const machine = header.readUInt16LE(18);
  if (machine !== 0xb7) return `${bootstrap} is built for ELF machine 0x${machine.toString(16)}, not aarch64 (0xb7)`;
  return undefined;
}

/** Where the function's code comes from: the built binary, or (only when allowed) the placeholder. */
export function assetFor(assetRoot: string, entry: string, allowPlaceholder: boolean): { dir: string; problem?: string; placeholder: boolean } {
  const dir = path.join(assetRoot, entry);
  const problem = bootstrapProblem(path.join(dir, 'bootstrap'));
  if (problem === undefined) return { dir, placeholder: false };
  return allowPlaceholder ? { dir: PLACEHOLDER_ASSET, problem, placeholder: true } : { dir, problem, placeholder: false };
}

/** `--context allowPlaceholders=true`: synth with a placeholder for every unbuilt function (tests, lint). */
export function placeholdersAllowed(scope: Construct): boolean {
  const v = scope.node.tryGetContext('allowPlaceholders');
  return v === true || v === 'true';
}

export class RustFunction extends lambda.Function {
  readonly usesPlaceholder: boolean;
  readonly entry: string;

  constructor(scope: Construct, id: string, props: RustFunctionProps) {
    const asset = assetFor(props.assetRoot, props.entry, placeholdersAllowed(scope));
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      description: props.description,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      // A missing directory would make fromAsset throw before the validation below can name every function.
      code: lambda.Code.fromAsset(fs.existsSync(asset.dir) ? asset.dir : PLACEHOLDER_ASSET),
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      environment: { RUST_LOG: 'info', ...props.environment },
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    });
    this.usesPlaceholder = asset.placeholder;
    this.entry = props.entry;
    // Every RustFunction checks its own artifact, so no function can be left out of the check.
    if (asset.placeholder) {
      Annotations.of(this).addWarningV2('webtrigger:placeholder', `${asset.problem}: using a placeholder bootstrap (allowPlaceholders)`);
    } else if (asset.problem) {
      const problem = asset.problem;
      this.node.addValidation({ validate: () => [`${props.entry}: ${problem}. Build it with scripts/deploy.sh (cargo lambda build --profile lambda-release --arm64 -p webtrigger-lambda), or synth with --context allowPlaceholders=true`] });
    }
  }
}
