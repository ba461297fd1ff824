export default function NotFound() {
  return (
    <main className="narrow">
      <section className="card">
        <h1>Not found</h1>
        <p>
          There is nothing here. <a href="/">Back to Gatebell</a>
        </p>
      </section>
    </main>
  );
}
