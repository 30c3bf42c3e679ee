-- The book fair: copies sold and revenue per title, from a join and a GROUP BY.
-- Used by scripts/demo.sh, the pipeline tests and the end-to-end benchmark.
CREATE TABLE books (id BIGINT NOT NULL PRIMARY KEY, title VARCHAR NOT NULL, price DECIMAL(8, 2) NOT NULL);
CREATE TABLE sales (book_id BIGINT NOT NULL, copies BIGINT NOT NULL);
CREATE VIEW total_sales AS
    SELECT b.title, SUM(s.copies) AS copies, SUM(s.copies * b.price) AS revenue
    FROM sales s JOIN books b ON s.book_id = b.id
    GROUP BY b.title;
