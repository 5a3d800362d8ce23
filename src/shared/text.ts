/**
 * Control characters (C0 and DEL). Ids, names and endpoints refuse them: they cannot be stored by
 * every backend (a NUL in PostgreSQL text), and would end up in log lines, HTTP requests and admin
 * screens.
 */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
