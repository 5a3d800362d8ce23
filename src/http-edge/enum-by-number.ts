/**
 * A class-transformer step for an enum field (or a list of them) that protobuf JSON lets a client
 * give by number as well as by name: a known number becomes its name; anything else is left for
 * the validator to refuse.
 */
export const enumByNumber =
  (names: readonly string[]) =>
  ({ value }: { value: unknown }): unknown => {
    const name = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && names[v] !== undefined ? names[v] : v);
    return Array.isArray(value) ? value.map(name) : name(value);
  };
