/** Parsers of numeric command-line values, shared by every `strata` command (errors name the flag). */
import { InvalidArgumentError } from 'commander';

function numberArg(name: string, ok: (n: number) => boolean, what: string) {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !ok(n)) throw new InvalidArgumentError(`${name} must be ${what}`);
    return n;
  };
}

export const positiveInt = (name: string) => numberArg(name, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
export const nonNegativeInt = (name: string) => numberArg(name, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer');
export const nonNegativeNumber = (name: string) => numberArg(name, (n) => Number.isFinite(n) && n >= 0, 'a number >= 0');
export const fractionArg = (name: string) => numberArg(name, (n) => n >= 0 && n <= 1, 'in [0, 1]');
