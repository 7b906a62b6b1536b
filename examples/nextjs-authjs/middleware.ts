// Optional: keeps the session alive on every request.
export { auth as middleware } from '@/auth';
