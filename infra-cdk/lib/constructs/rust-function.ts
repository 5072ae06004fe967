// A Rust Lambda: the `bootstrap` built by `cargo lambda build --release --arm64` into
// <repo>/target/lambda/<name>/, on provided.al2023 / arm64 with JSON logs kept a month.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PLACEHOLDER_ASSET = path.resolve(here, '../../placeholder-asset');
export const DEFAULT_ASSET_ROOT = path.resolve(here, '../../../target/lambda');

export interface RustFunctionProps {
  /** The crate name under functions/, e.g. `api-health`. */
  readonly crate: string;
  readonly description: string;
  readonly assetRoot: string;
  readonly environment: Record<string, string>;
  readonly memorySize?: number;
  readonly timeout?: Duration;
  readonly reservedConcurrentExecutions?: number;
}

/** Where the function's code comes from: the built binary, or the placeholder when it is not built. */
export function assetFor(assetRoot: string, crate: string): { dir: string; placeholder: boolean } {
  const dir = path.join(assetRoot, crate);
  return fs.existsSync(path.join(dir, 'bootstrap')) ? { dir, placeholder: false } : { dir: PLACEHOLDER_ASSET, placeholder: true };
}

export class RustFunction extends lambda.Function {
  readonly usesPlaceholder: boolean;
  readonly crate: string;

  constructor(scope: Construct, id: string, props: RustFunctionProps) {
    const asset = assetFor(props.assetRoot, props.crate);
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      description: props.description,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(asset.dir),
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      environment: { RUST_LOG: 'info', ...props.environment },
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    });
    this.usesPlaceholder = asset.placeholder;
    this.crate = props.crate;
  }
}
