// Reading fields of JSON-lines records, with errors that name the file, line and field.
import { DataError, type DataLocation, preview } from './errors.js';

export type FieldLocation = DataLocation & { line: number; field: string };

/** Parses one JSON line that must hold an object. */
export function parseJsonObject(raw: string, where: DataLocation): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    throw new DataError(where, `invalid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataError(where, `expected a JSON object, got ${Array.isArray(value) ? 'an array' : preview(value)}`);
  }
  return value as Record<string, unknown>;
}

/** The string field `where.field` of obj; throws DataError when it is missing or not a string. */
export function jsonString(obj: Record<string, unknown>, where: FieldLocation): string {
  const v = obj[where.field];
  if (v === undefined) throw new DataError(where, 'missing field');
  if (typeof v !== 'string') throw new DataError(where, `expected a string, got ${preview(v)}`);
  return v;
}

/** Whether obj has a non-null value for key (JSON lines often write absent optional fields as null). */
export function hasValue(obj: Record<string, unknown>, key: string): boolean {
  return obj[key] !== undefined && obj[key] !== null;
}
