export * from './errors.js';
export { httpStatusOf } from './to-http.js';
