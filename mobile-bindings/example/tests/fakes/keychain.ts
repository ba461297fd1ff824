// react-native-keychain at the module boundary: an in-memory keychain.
export const fake = { entries: new Map<string, { username: string; password: string }>() };

type Options = { service?: string; accessGroup?: string };

export async function getGenericPassword(options?: Options): Promise<false | { username: string; password: string; service: string }> {
  const entry = fake.entries.get(options?.service ?? "");
  return entry ? { ...entry, service: options?.service ?? "" } : false;
}
export async function setGenericPassword(username: string, password: string, options?: Options): Promise<false | { service: string; storage: string }> {
  fake.entries.set(options?.service ?? "", { username, password });
  return { service: options?.service ?? "", storage: "memory" };
}
