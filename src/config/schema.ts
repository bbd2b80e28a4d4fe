/**
 * Standard Schema (https://standardschema.dev), the interface zod, valibot, ArkType and TypeBox
 * schemas all implement, copied here as its authors intend so the config needs no package for it.
 */
import { type ConfigIssue, ConfigSchemaError } from "./config.js";

/** A schema of any Standard Schema library. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": StandardSchemaV1.Props<Input, Output>;
}

export declare namespace StandardSchemaV1 {
  interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown, options?: Options) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  interface Options {
    readonly libraryOptions?: Record<string, unknown> | undefined;
  }
  type Result<Output> = SuccessResult<Output> | FailureResult;
  interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  interface PathSegment {
    readonly key: PropertyKey;
  }
  interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema["~standard"]["types"]>["output"];
}

/** `value` validated by `schema`: its output, or a ConfigSchemaError listing every issue by dotted path (under `base`). */
export async function validate<S extends StandardSchemaV1>(schema: S, value: unknown, base = ""): Promise<StandardSchemaV1.InferOutput<S>> {
  const result = await schema["~standard"].validate(value);
  if (!result.issues) return result.value as StandardSchemaV1.InferOutput<S>;
  throw new ConfigSchemaError(result.issues.map((issue) => toConfigIssue(issue, base)));
}

function toConfigIssue(issue: StandardSchemaV1.Issue, base: string): ConfigIssue {
  const segments = (issue.path ?? []).map((segment) => String(typeof segment === "object" ? segment.key : segment));
  return { path: [base, ...segments].filter(Boolean).join("."), message: issue.message };
}
